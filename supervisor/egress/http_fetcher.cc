#include "supervisor/egress/http_fetcher.h"

#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/http_field.h"
#include "supervisor/egress/curl_internal.h"

namespace isobar::supervisor {
namespace {

using egress_internal::CheckScheme;
using egress_internal::FromSockaddr;
using egress_internal::InitCurl;
using egress_internal::Url;

bool IsToken(absl::string_view text) {
  static constexpr absl::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || absl::StrContains(kTokenPunctuation, c);
  });
}

// Request headers curl frames itself (or that would change how the body is framed or where the
// connection goes): dropped from what user code sets.
bool IsFramingHeader(absl::string_view lower) {
  for (absl::string_view name : {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
                                 "te", "trailer", "expect", "proxy-connection", "proxy-authorization"}) {
    if (lower == name) return true;
  }
  return false;
}


}  // namespace

absl::StatusOr<std::string> FetchableHost(const std::string& url_text) {
  Url url;
  // ASCII only: an internationalized host comes as punycode (the runtime's URL makes it so), never as
  // text curl would convert itself, so host rules see the name that is looked up.
  const bool ascii = std::all_of(url_text.begin(), url_text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (url_text.size() > 64 * 1024 || !ascii || !url.Set(url_text)) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid URL: '", url_text.substr(0, 200), "'"));
  }
  if (absl::Status scheme = CheckScheme(url, "fetch"); !scheme.ok()) return scheme;
  std::string host = url.Host();
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat("Invalid URL: '", url_text.substr(0, 200), "'"));
  return host;
}

// curl's callbacks (C functions), each working on the Fetch their user pointer names.
HttpFetcher::HttpFetcher(Options options) : options_(std::move(options)) {
  InitCurl();
  SetInternal(options_.internal);
}

void HttpFetcher::SetInternal(std::vector<Endpoint> internal) {
  absl::MutexLock lock(&counts_->mu);
  counts_->internal = std::move(internal);
}

std::vector<Endpoint> EndpointsOf(const std::string& host_text, int port) {
  std::vector<Endpoint> out;
  if (port <= 0 || port > 65535 || host_text.empty() || host_text[0] == '/') return out;
  std::string host = host_text;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (std::optional<IpAddress> ip = ParseIp(host)) {
    out.push_back({*ip, static_cast<uint16_t>(port)});
    return out;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return out;
  for (addrinfo* entry = found; entry != nullptr; entry = entry->ai_next) {
    if (std::optional<IpAddress> ip = FromSockaddr(entry->ai_addr, entry->ai_addrlen)) {
      out.push_back({*ip, static_cast<uint16_t>(port)});
    }
  }
  freeaddrinfo(found);
  return out;
}

std::vector<IpAddress> MachineAddresses() {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    const size_t length = entry->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (std::optional<IpAddress> ip = FromSockaddr(entry->ifa_addr, length)) out.push_back(*ip);
  }
  freeifaddrs(list);
  return out;
}

void HttpFetcher::Shutdown() {
  std::vector<std::shared_ptr<Fetch>> running;
  {
    absl::MutexLock lock(&counts_->mu);
    counts_->stopped = true;
    for (const auto& weak : counts_->running) {
      if (auto fetch = weak.lock()) running.push_back(std::move(fetch));
    }
  }
  for (const auto& fetch : running) fetch->Cancel(absl::CancelledError("the server is shutting down"));
  running.clear();
  absl::MutexLock lock(&counts_->mu);
  counts_->mu.Await(absl::Condition(
      +[](InFlightCounts* counts) ABSL_EXCLUSIVE_LOCKS_REQUIRED(counts->mu) { return counts->threads == 0; },
      counts_.get()));
}

absl::StatusOr<std::shared_ptr<Fetch>> HttpFetcher::Rejected(absl::Status status) {
  absl::MutexLock lock(&counts_->mu);
  ++counts_->stats.rejected;
  return status;
}

HttpFetcher::Stats HttpFetcher::stats() const {
  absl::MutexLock lock(&counts_->mu);
  return counts_->stats;
}

absl::StatusOr<std::shared_ptr<Fetch>> HttpFetcher::Start(const std::string& deployment, EgressPolicy policy,
                                                          FetchLimits limits, FetchRequest request, absl::Time deadline) {
  absl::StatusOr<std::string> host = FetchableHost(request.url);
  if (!host.ok()) return Rejected(host.status());
  if (!IsToken(request.method)) return Rejected(absl::InvalidArgumentError("Invalid method"));
  HeaderPairs headers;
  for (auto& [name, value] : request.headers) {
    std::string lower = absl::AsciiStrToLower(name);
    if (!IsToken(lower)) return Rejected(absl::InvalidArgumentError(absl::StrCat("Invalid header name: '", name.substr(0, 100), "'")));
    if (!IsHttpFieldValue(value)) {
      return Rejected(absl::InvalidArgumentError(absl::StrCat("Invalid header value for '", name.substr(0, 100), "'")));
    }
    if (!IsFramingHeader(lower)) headers.emplace_back(std::move(lower), std::move(value));
  }
  request.headers = std::move(headers);
  if (request.body.has_value() && request.body->size() > limits.max_request_bytes) {
    return Rejected(absl::ResourceExhaustedError(
        absl::StrCat("the request body is over the deployment's limit of ", limits.max_request_bytes, " bytes")));
  }
  for (const IpAddress& address : options_.local_addresses) policy.local_addresses.push_back(address);
  std::shared_ptr<Fetch> fetch;
  {
    absl::MutexLock lock(&counts_->mu);
    ++counts_->stats.rejected;  // until it is past every check below
    if (counts_->stopped) return absl::UnavailableError("the server is shutting down");
    for (const Endpoint& endpoint : counts_->internal) policy.internal.push_back(endpoint);
    fetch = std::make_shared<Fetch>(deployment, std::move(policy), limits, std::move(request), deadline);
    if (counts_->threads >= options_.max_threads) {
      return absl::ResourceExhaustedError("Too many fetches still ending on this server; try again");
    }
    if (counts_->total >= options_.max_total) {
      return absl::ResourceExhaustedError(
          absl::StrCat("Too many fetches in flight on this server (limit ", options_.max_total, "); try again"));
    }
    int& mine = counts_->per_deployment[deployment];
    if (mine >= limits.max_concurrent) {
      return absl::ResourceExhaustedError(
          absl::StrCat("Too many concurrent fetches (the deployment's limit is ", limits.max_concurrent, ")"));
    }
    --counts_->stats.rejected;
    ++counts_->stats.started;
    ++mine;
    ++counts_->total;
    ++counts_->threads;
    auto& running = counts_->running;
    running.erase(std::remove_if(running.begin(), running.end(), [](const auto& weak) { return weak.expired(); }),
                  running.end());
    counts_->running.push_back(fetch);
  }
  fetch->OnRelease([counts = counts_, deployment]() {
    absl::MutexLock lock(&counts->mu);
    --counts->total;
    if (--counts->per_deployment[deployment] == 0) counts->per_deployment.erase(deployment);
  });
  auto run = [counts = counts_, fetch]() {
    const absl::Status outcome = fetch->Run();
    absl::MutexLock lock(&counts->mu);
    --counts->threads;
    Stats& stats = counts->stats;
    ++(outcome.ok()                           ? stats.completed
       : absl::IsPermissionDenied(outcome)    ? stats.denied
       : absl::IsCancelled(outcome)           ? stats.cancelled
                                              : stats.failed);
  };
  // std::thread reports a thread the system refuses by throwing; it ends here as a refusal.
  try {
    std::thread(std::move(run)).detach();
  } catch (const std::system_error& error) {
    fetch->Cancel(absl::ResourceExhaustedError("no thread for the request"));
    absl::MutexLock lock(&counts_->mu);
    --counts_->threads;
    return absl::ResourceExhaustedError(absl::StrCat("Too many fetches on this server (", error.what(), "); try again"));
  }
  return fetch;
}

int HttpFetcher::InFlight() const {
  absl::MutexLock lock(&counts_->mu);
  return counts_->total;
}

}  // namespace isobar::supervisor
