#include "base/frames.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

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

bool FrameDecoder::Append(absl::string_view bytes) {
  if (broken_) return false;
  if (start_ > kCompactAfter && start_ * 2 > buffer_.size()) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  // A length past the limit is refused as soon as its header is complete, not once its bytes came.
  if (pending() >= kFrameHeaderBytes) {
    uint32_t n = 0;
    for (size_t i = 0; i < kFrameHeaderBytes; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>(buffer_[start_ + i])) << (8 * i);
    if (n > max_) broken_ = true;
  }
  return !broken_;
}

std::optional<std::string> FrameDecoder::Next() {
  if (broken_ || pending() < kFrameHeaderBytes) return std::nullopt;
  uint32_t n = 0;
  for (size_t i = 0; i < kFrameHeaderBytes; ++i) n |= static_cast<uint32_t>(static_cast<uint8_t>(buffer_[start_ + i])) << (8 * i);
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

absl::Status FrameWriter::Write(absl::string_view payload) {
  if (payload.size() > kMaxFrameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a frame of ", payload.size(), " bytes is past the limit"));
  }
  const std::string header = FrameHeader(payload.size());
  iovec parts[2] = {{const_cast<char*>(header.data()), header.size()},
                    {const_cast<char*>(payload.data()), payload.size()}};
  absl::MutexLock lock(&mu_);
  if (failed_) return absl::UnavailableError("the stream is closed");
  iovec* next = parts;
  size_t count = payload.empty() ? 1 : 2;
  while (count > 0) {
    msghdr message{};
    message.msg_iov = next;
    message.msg_iovlen = count;
    // MSG_NOSIGNAL: a peer gone is an error here, not a SIGPIPE for the process.
    const ssize_t sent = sendmsg(fd_, &message, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) {
      failed_ = true;
      return absl::UnavailableError(absl::StrCat("the stream is closed (", strerror(errno), ")"));
    }
    size_t done = static_cast<size_t>(sent);
    while (count > 0 && done >= next->iov_len) {
      done -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + done;
      next->iov_len -= done;
    }
  }
  return absl::OkStatus();
}

void FrameWriter::Close() {
  absl::MutexLock lock(&mu_);
  failed_ = true;
}

}  // namespace isobar
