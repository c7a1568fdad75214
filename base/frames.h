// Length-prefixed frames over a stream socket: the supervisor and its workers exchange their
// protobuf messages this way on the socketpair the pool creates (ARCHITECTURE.md, the life of an
// invocation). A frame is a 4-byte little-endian payload length, then the payload.
//
//   FrameWriter writer(fd);                  // any thread; never blocks on the peer
//   writer.Write(message.SerializeAsString());
//   FrameReader reader(fd);                  // one thread
//   while (absl::StatusOr<std::string> frame = reader.Read(); frame.ok()) { ... }
//
// The decoder is separate (FrameDecoder) so it can be fuzzed on bytes split anywhere. A length past
// the limit breaks the stream for good: the other side is not trusted to resynchronise.
#ifndef ISOBAR_BASE_FRAMES_H_
#define ISOBAR_BASE_FRAMES_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace isobar {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kMaxFrameBytes = 64u << 20;  // as the gRPC limit it replaces

// The frame's header (its length) followed by nothing: callers send the payload after it.
std::string FrameHeader(size_t payload_bytes);
// The payload length a header announces (`header` holds at least kFrameHeaderBytes).
uint32_t FrameLength(absl::string_view header);

// Frames out of bytes as they arrive.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_bytes = kMaxFrameBytes) : max_(max_frame_bytes) {}

  // Takes more bytes; false once a frame announced more than the limit (then and ever after).
  bool Append(absl::string_view bytes);
  // The next whole frame's payload, if one has arrived.
  std::optional<std::string> Next();
  bool broken() const { return broken_; }
  // Bytes held that are not yet read as frames.
  size_t pending() const { return buffer_.size() - start_; }
  // Next would return a frame (or break the stream).
  bool HasFrame() const;

 private:
  const size_t max_;
  bool broken_ = false;
  std::string buffer_;
  size_t start_ = 0;  // where the unread part of buffer_ begins
};

// Reads frames from a blocking stream socket. Not thread-safe: one reader.
class FrameReader {
 public:
  explicit FrameReader(int fd, size_t max_frame_bytes = kMaxFrameBytes) : fd_(fd), decoder_(max_frame_bytes) {}

  // The next frame. OUT_OF_RANGE when the peer closed the stream between frames; DATA_LOSS when it
  // closed it inside one or sent a frame past the limit; UNAVAILABLE on a read error.
  absl::StatusOr<std::string> Read();
  // Read would find something without waiting long: a whole frame is buffered, or the socket has
  // bytes (perhaps the start of a frame whose rest is on its way).
  bool HasInput() const;

 private:
  const int fd_;
  FrameDecoder decoder_;
};

// Writes frames to a stream socket without ever blocking its caller on the peer. Thread-safe; frames
// never interleave. A frame goes out at once when the socket has room (no thread hop); otherwise it
// waits in a queue that a sender thread of the writer's drains. So a peer that reads slowly, or not
// at all, never holds the threads that write to it, and two processes that each write while the
// other writes cannot deadlock. The stream fails for good (and the socket is shut down both ways, so
// its reader sees the end) when the queue would pass `max_queued_bytes`, or when the oldest queued
// frame has waited longer than `max_wait`.
class FrameWriter {
 public:
  struct Options {
    size_t max_queued_bytes = 2 * (kMaxFrameBytes + kFrameHeaderBytes);
    absl::Duration max_wait = absl::Seconds(10);
  };
  explicit FrameWriter(int fd) : FrameWriter(fd, Options()) {}
  FrameWriter(int fd, Options options);
  ~FrameWriter();  // Close()
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // UNAVAILABLE once the stream failed (the peer went away, or the limits above were passed) or
  // Close was called; INVALID_ARGUMENT for a payload past the frame limit (nothing is sent).
  absl::Status Write(absl::string_view payload) ABSL_LOCKS_EXCLUDED(mu_);
  // No frame is written after this returns, and the sender thread is gone (frames still queued are
  // dropped). The socket is not closed (its writing side is shut down if a frame was left half out).
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void SendLoop() ABSL_LOCKS_EXCLUDED(mu_);
  // Marks the stream failed and shuts the socket down; the queue is dropped.
  void FailLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int fd_;
  const Options options_;
  absl::Mutex mu_;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool sending_ ABSL_GUARDED_BY(mu_) = false;  // the sender is in a system call with the queue's front
  struct Queued {
    std::string bytes;  // header and payload, or what is left of them
    absl::Time since;
  };
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread sender_;  // started by the first frame that has to wait
};

}  // namespace isobar

#endif  // ISOBAR_BASE_FRAMES_H_
