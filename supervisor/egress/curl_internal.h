// Internals shared by the egress client's two files (http_fetcher.cc: the client and its limits;
// fetch.cc: one request): curl's URL parser as a class, the scheme rule, socket addresses as IpAddress,
// and curl's one-time setup. Not part of the interface (http_fetcher.h).
#ifndef ISOBAR_SUPERVISOR_EGRESS_CURL_INTERNAL_H_
#define ISOBAR_SUPERVISOR_EGRESS_CURL_INTERNAL_H_

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <string>

#include "absl/base/call_once.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "supervisor/egress/address_policy.h"

namespace isobar::supervisor::egress_internal {

inline void InitCurl() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A parsed URL (curl's parser, which is the one that sends it).
class Url {
 public:
  Url() : handle_(curl_url()) {}
  ~Url() { curl_url_cleanup(handle_); }
  Url(const Url&) = delete;
  Url& operator=(const Url&) = delete;

  // Sets the URL, or resolves a relative one against the one already set.
  bool Set(const std::string& text) {
    return handle_ != nullptr && curl_url_set(handle_, CURLUPART_URL, text.c_str(), CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
           curl_url_set(handle_, CURLUPART_FRAGMENT, nullptr, 0) == CURLUE_OK;
  }
  std::string Get(CURLUPart part) const {
    char* out = nullptr;
    if (curl_url_get(handle_, part, &out, part == CURLUPART_PORT ? CURLU_DEFAULT_PORT : 0) != CURLUE_OK || out == nullptr) {
      return "";
    }
    std::string text(out);
    curl_free(out);
    return text;
  }
  // Lower case, without IPv6 brackets or a trailing dot ("example.com." is example.com).
  std::string Host() const {
    std::string host = absl::AsciiStrToLower(Get(CURLUPART_HOST));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    while (!host.empty() && host.back() == '.') host.pop_back();
    return host;
  }
  // "scheme://host:port", to tell whether a redirect leaves the origin.
  std::string Origin() const { return absl::StrCat(Get(CURLUPART_SCHEME), "://", Host(), ":", Get(CURLUPART_PORT)); }

 private:
  CURLU* handle_;
};

inline absl::Status CheckScheme(const Url& url, absl::string_view what) {
  const std::string scheme = absl::AsciiStrToLower(url.Get(CURLUPART_SCHEME));
  if (scheme == "http" || scheme == "https") return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(what, " to a ", scheme.substr(0, 20), ": URL is not allowed: only http and https are"));
}

// The address (and port) a socket address holds; nullopt for a family other than IPv4 and IPv6.
inline std::optional<IpAddress> FromSockaddr(const sockaddr* address, size_t length, uint16_t* port = nullptr) {
  IpAddress ip;
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(address);
    ip.bytes[10] = ip.bytes[11] = 0xff;
    std::memcpy(&ip.bytes[12], &in->sin_addr, 4);
    ip.v4 = true;
    if (port != nullptr) *port = ntohs(in->sin_port);
    return ip;
  }
  if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    std::memcpy(ip.bytes.data(), &in6->sin6_addr, 16);
    if (port != nullptr) *port = ntohs(in6->sin6_port);
    return ip;
  }
  return std::nullopt;
}


}  // namespace isobar::supervisor::egress_internal

#endif  // ISOBAR_SUPERVISOR_EGRESS_CURL_INTERNAL_H_
