// A raw HTTP/1.1 client over a blocking socket, for tests that send what a well-behaved library never
// would. Test-only.
#ifndef ISOBAR_SUPERVISOR_HTTP_RAW_HTTP_CLIENT_TESTING_H_
#define ISOBAR_SUPERVISOR_HTTP_RAW_HTTP_CLIENT_TESTING_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {

// A raw client, so the tests can send what a well-behaved library never would.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval timeout{10, 0};  // a safety net for a broken server, never the thing a test waits for
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawClient() { close(fd_); }

  bool connected() const { return connected_; }
  bool Send(absl::string_view bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // One response (headers, then Content-Length bytes of body), or what arrived before EOF.
  std::string ReadResponse() {
    for (;;) {
      const size_t end = buffer_.find("\r\n\r\n");
      if (end != std::string::npos) {
        size_t length = 0;
        const size_t at = buffer_.find("Content-Length: ");
        if (at != std::string::npos && at < end &&
            !absl::SimpleAtoi(buffer_.substr(at + 16, buffer_.find("\r\n", at) - at - 16), &length)) {
          ADD_FAILURE() << "a Content-Length that is not a number";
        }
        if (buffer_.size() >= end + 4 + length) {
          std::string response = buffer_.substr(0, end + 4 + length);
          buffer_.erase(0, end + 4 + length);
          return response;
        }
      }
      if (!Fill()) {
        std::string rest = std::move(buffer_);
        buffer_.clear();
        return rest;
      }
    }
  }
  // Everything up to the server's close.
  std::string ReadAll() {
    while (Fill()) {
    }
    std::string rest = std::move(buffer_);
    buffer_.clear();
    return rest;
  }
  // True once the server closed the connection (reads reach EOF).
  bool Closed() {
    while (Fill()) {
    }
    return eof_;
  }

 private:
  bool Fill() {
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      eof_ = n == 0 || errno == ECONNRESET;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_RAW_HTTP_CLIENT_TESTING_H_
