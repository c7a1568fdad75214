#include "base/frames.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace isobar {
namespace {

// Past this many bytes consumed, the decoder drops what it has read (amortised, as a deque would).
constexpr size_t kCompactAfter = 64u << 10;

}  // namespace

std::string FrameHeader(size_t payload_bytes) {
  const uint32_t n = static_cast<uint32_t>(payload_bytes);
  std::string header(kFrameHeaderBytes, '\0');
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) header[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return header;
}

uint32_t FrameLength(absl::string_view header) {
  uint32_t n = 0;
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>(header[i])) << (8 * i);
  return n;
}

bool FrameDecoder::Append(absl::string_view bytes) {
  if (broken_) return false;
  if (start_ > kCompactAfter && start_ * 2 > buffer_.size()) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  // A length past the limit is refused as soon as its header is complete, not once its bytes came.
  if (pending() >= kFrameHeaderBytes && FrameLength(absl::string_view(buffer_).substr(start_)) > max_) broken_ = true;
  return !broken_;
}

std::optional<std::string> FrameDecoder::Next() {
  if (broken_ || pending() < kFrameHeaderBytes) return std::nullopt;
  const uint32_t n = FrameLength(absl::string_view(buffer_).substr(start_));
  if (n > max_) {
    broken_ = true;
    return std::nullopt;
  }
  if (pending() < kFrameHeaderBytes + n) return std::nullopt;
  std::string payload = buffer_.substr(start_ + kFrameHeaderBytes, n);
  start_ += kFrameHeaderBytes + n;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return payload;
}

bool FrameDecoder::HasFrame() const {
  if (broken_ || pending() < kFrameHeaderBytes) return false;
  const uint32_t n = FrameLength(absl::string_view(buffer_).substr(start_));
  return n > max_ || pending() >= kFrameHeaderBytes + n;
}

bool FrameReader::HasInput() const {
  if (decoder_.HasFrame()) return true;
  int unread = 0;
  return ioctl(fd_, FIONREAD, &unread) == 0 && unread > 0;
}

absl::StatusOr<std::string> FrameReader::Read() {
  char chunk[64 << 10];
  for (;;) {
    if (std::optional<std::string> frame = decoder_.Next()) return *std::move(frame);
    if (decoder_.broken()) return absl::DataLossError("a frame longer than the limit");
    const ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(absl::StrCat("read: ", strerror(errno)));
    if (n == 0) {
      return decoder_.pending() == 0 ? absl::OutOfRangeError("the stream ended")
                                     : absl::DataLossError("the stream ended inside a frame");
    }
    decoder_.Append(absl::string_view(chunk, static_cast<size_t>(n)));
  }
}

namespace {

// Sends from `parts` (consumed as they go out) with `flags`; the bytes sent, or -1 with errno.
ssize_t SendParts(int fd, iovec* parts, size_t count, int flags) {
  size_t total = 0;
  while (count > 0) {
    msghdr message{};
    message.msg_iov = parts;
    message.msg_iovlen = count;
    const ssize_t sent = sendmsg(fd, &message, flags | MSG_NOSIGNAL);  // a peer gone is an error, not SIGPIPE
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) return total > 0 && errno == EAGAIN ? static_cast<ssize_t>(total) : -1;
    total += static_cast<size_t>(sent);
    size_t done = static_cast<size_t>(sent);
    while (count > 0 && done >= parts->iov_len) {
      done -= parts->iov_len;
      ++parts;
      --count;
    }
    if (count > 0) {
      parts->iov_base = static_cast<char*>(parts->iov_base) + done;
      parts->iov_len -= done;
    }
  }
  return static_cast<ssize_t>(total);
}

}  // namespace

FrameWriter::FrameWriter(int fd, Options options) : fd_(fd), options_(options) {
  // The sender's blocking sends give up after a second without progress, to look at the clock.
  const timeval second{.tv_sec = 1, .tv_usec = 0};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &second, sizeof(second));
}

FrameWriter::~FrameWriter() { Close(); }

absl::Status FrameWriter::Write(absl::string_view payload) {
  if (payload.size() > kMaxFrameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a frame of ", payload.size(), " bytes is past the limit"));
  }
  const std::string header = FrameHeader(payload.size());
  absl::MutexLock lock(&mu_);
  if (failed_ || closing_) return absl::UnavailableError("the stream is closed");
  size_t sent = 0;
  if (queue_.empty()) {
    // The common case: the socket has room, and the frame goes out from this thread.
    iovec parts[2] = {{const_cast<char*>(header.data()), header.size()},
                      {const_cast<char*>(payload.data()), payload.size()}};
    const ssize_t n = SendParts(fd_, parts, payload.empty() ? 1 : 2, MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN) {
      FailLocked();
      return absl::UnavailableError(absl::StrCat("the stream is closed (", strerror(errno), ")"));
    }
    sent = n < 0 ? 0 : static_cast<size_t>(n);
    if (sent == header.size() + payload.size()) return absl::OkStatus();
  }
  const size_t left = header.size() + payload.size() - sent;
  if (queued_bytes_ + left > options_.max_queued_bytes) {
    FailLocked();
    return absl::UnavailableError("the stream is closed (the peer does not read)");
  }
  std::string rest;
  rest.reserve(left);
  if (sent < header.size()) rest.append(header, sent, std::string::npos);
  rest.append(payload.data() + (sent > header.size() ? sent - header.size() : 0),
              payload.size() - (sent > header.size() ? sent - header.size() : 0));
  queue_.push_back(Queued{std::move(rest), absl::Now()});
  queued_bytes_ += left;
  if (!sender_.joinable()) sender_ = std::thread([this] { SendLoop(); });
  return absl::OkStatus();
}

void FrameWriter::SendLoop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](FrameWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->failed_ || w->closing_ || !w->queue_.empty(); },
        this));
    if (failed_ || closing_) {
      queue_.clear();  // (the front may have been left for this thread's system call)
      return;
    }
    Queued& front = queue_.front();  // only this thread takes from the front; Write appends at the back
    if (absl::Now() - front.since > options_.max_wait) {
      FailLocked();
      return;
    }
    iovec part = {front.bytes.data(), front.bytes.size()};
    sending_ = true;
    mu_.Unlock();
    const ssize_t n = SendParts(fd_, &part, 1, 0);
    const int error = errno;
    mu_.Lock();
    sending_ = false;
    if (failed_ || closing_) {
      queue_.clear();
      return;
    }
    if (n < 0 && error != EAGAIN) {
      FailLocked();
      return;
    }
    const size_t sent = n < 0 ? 0 : static_cast<size_t>(n);
    queued_bytes_ -= sent;
    if (sent == front.bytes.size()) {
      queue_.pop_front();
    } else {
      front.bytes.erase(0, sent);  // the rest, after a second without progress: the clock is looked at
    }
  }
}

void FrameWriter::FailLocked() {
  failed_ = true;
  // The front stays while the sender's system call reads it; the sender drops it when back.
  queue_.erase(queue_.begin() + (sending_ ? 1 : 0), queue_.end());
  queued_bytes_ = 0;
  shutdown(fd_, SHUT_RDWR);  // a frame may be half out: the peer's reader must see the end
}

void FrameWriter::Close() {
  std::thread sender;
  {
    absl::MutexLock lock(&mu_);
    closing_ = true;
    // A frame half out would leave the peer's reader waiting for its rest: end the writing side.
    if (sending_ || !queue_.empty()) shutdown(fd_, SHUT_WR);
    queue_.erase(queue_.begin() + (sending_ ? 1 : 0), queue_.end());
    queued_bytes_ = 0;
    sender.swap(sender_);
  }
  if (sender.joinable()) sender.join();
}

}  // namespace isobar
