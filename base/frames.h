// Length-prefixed frames over a stream socket: the supervisor and its workers exchange their
// protobuf messages this way on the socketpair the pool creates (ARCHITECTURE.md, the life of an
// invocation). A frame is a 4-byte little-endian payload length, then the payload.
//
//   FrameWriter writer(fd);                  // any thread; one frame at a time, whole
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
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace isobar {

inline constexpr size_t kFrameHeaderBytes = 4;
inline constexpr size_t kMaxFrameBytes = 64u << 20;  // as the gRPC limit it replaces

// The frame's header (its length) followed by nothing: callers send the payload after it.
std::string FrameHeader(size_t payload_bytes);

// Frames out of bytes as they arrive.
class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_bytes = kMaxFrameBytes) : max_(max_frame_bytes) {}

  // Takes more bytes; false once a frame announced more than the limit (then and ever after).
  bool Append(absl::string_view bytes);
  // The next whole frame's payload, if one has arrived.
  std::optional<std::string> Next();
  bool broken() const { return broken_; }
  // Bytes held that are not yet a whole frame.
  size_t pending() const { return buffer_.size() - start_; }

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

 private:
  const int fd_;
  FrameDecoder decoder_;
};

// Writes frames to a stream socket. Thread-safe: frames never interleave.
class FrameWriter {
 public:
  explicit FrameWriter(int fd) : fd_(fd) {}

  // UNAVAILABLE once the socket failed (the peer went away, or a send timed out: SO_SNDTIMEO, after
  // which part of a frame may be out, so the writer stays failed) or Close was called;
  // INVALID_ARGUMENT for a payload past the limit (nothing is sent).
  absl::Status Write(absl::string_view payload) ABSL_LOCKS_EXCLUDED(mu_);
  // No frame is written after this returns. The socket itself is not closed.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const int fd_;
  absl::Mutex mu_;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace isobar

#endif  // ISOBAR_BASE_FRAMES_H_
