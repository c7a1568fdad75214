#include "supervisor/egress/http_fetcher.h"

#include <curl/curl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/base/call_once.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/http_field.h"
#include "base/log.h"

namespace isobar::supervisor {
namespace {

// What a response's header section may take in all.
constexpr size_t kMaxHeaderBytes = 64 << 10;
constexpr absl::Duration kConnectTimeout = absl::Seconds(10);
// Sent unless the request sets its own.
constexpr char kUserAgent[] = "Convex/1.0";  // as Convex sends

absl::once_flag curl_init;

void InitCurl() {
  absl::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

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

template <typename Predicate>
void DropHeaders(HeaderPairs& headers, Predicate drop) {
  headers.erase(std::remove_if(headers.begin(), headers.end(), [&drop](const auto& header) { return drop(header.first); }),
                headers.end());
}

bool IsRedirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

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

absl::Status CheckScheme(const Url& url, absl::string_view what) {
  const std::string scheme = absl::AsciiStrToLower(url.Get(CURLUPART_SCHEME));
  if (scheme == "http" || scheme == "https") return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat(what, " to a ", scheme.substr(0, 20), ": URL is not allowed: only http and https are"));
}

// The address (and port) a socket address holds; nullopt for a family other than IPv4 and IPv6.
std::optional<IpAddress> FromSockaddr(const sockaddr* address, size_t length, uint16_t* port = nullptr) {
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
struct CurlCallbacks {
  // The socket for a connection curl is about to make, if the policy lets it reach that address.
  static curl_socket_t OpenSocket(void* self, curlsocktype purpose, curl_sockaddr* address) {
    Fetch& fetch = *static_cast<Fetch*>(self);
    if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
    uint16_t port = 0;
    const std::optional<IpAddress> ip = FromSockaddr(&address->addr, address->addrlen, &port);
    if (!ip.has_value()) return CURL_SOCKET_BAD;
    absl::MutexLock lock(&fetch.mu_);
    absl::Status allowed = CheckEgress(fetch.policy_, fetch.hop_host_, *ip, port);
    if (!allowed.ok()) {
      // Another address of the name may be allowed; if none is, this is why the request failed.
      fetch.refused_ = allowed;
      return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* self) {
    Fetch& fetch = *static_cast<Fetch*>(self);
    const size_t n = size * count;
    std::optional<Fetch::HeadDone> head_done;
    {
      absl::MutexLock lock(&fetch.mu_);
      if (!fetch.stop_.ok()) return 0;
      fetch.header_bytes_ += n;
      if (fetch.header_bytes_ > kMaxHeaderBytes) {
        fetch.stop_ = absl::UnavailableError(absl::StrCat("the response's headers are over ", kMaxHeaderBytes, " bytes"));
        return 0;
      }
      absl::string_view line(data, n);
      while (absl::ConsumeSuffix(&line, "\n") || absl::ConsumeSuffix(&line, "\r")) {
      }
      if (absl::StartsWith(line, "HTTP/")) {
        // A status line: of an interim (1xx) response or of the one that counts.
        std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(' ', 2));
        int status = 0;
        if (parts.size() < 2 || !absl::SimpleAtoi(parts[1], &status)) return 0;
        fetch.hop_status_ = status;
        fetch.hop_status_text_ = parts.size() == 3 ? std::string(parts[2]) : "";
        fetch.hop_headers_.clear();
      } else if (line.empty()) {
        head_done = fetch.HeadersComplete();
        if (!fetch.stop_.ok()) return 0;
      } else if ((line[0] == ' ' || line[0] == '\t') && !fetch.hop_headers_.empty()) {
        absl::StrAppend(&fetch.hop_headers_.back().second, " ", absl::StripAsciiWhitespace(line));  // obs-fold
      } else if (const size_t colon = line.find(':'); colon != absl::string_view::npos) {
        fetch.hop_headers_.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)),
                                        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
      }
    }
    if (head_done.has_value() && *head_done) {
      absl::StatusOr<FetchHead> head;
      {
        absl::MutexLock lock(&fetch.mu_);
        head = *fetch.head_;
        if (fetch.head_->ok()) (*fetch.head_)->headers.clear();  // handed over: not held twice
      }
      std::move (*head_done)(std::move(head));
    }
    return n;
  }

  static size_t OnBody(char* data, size_t size, size_t count, void* self) {
    Fetch& fetch = *static_cast<Fetch*>(self);
    const size_t n = size * count;
    Fetch::PendingRead read;
    {
      absl::MutexLock lock(&fetch.mu_);
      if (fetch.hop_redirect_ || !fetch.stop_.ok()) return 0;  // a redirect's body is not wanted
      fetch.received_ += n;
      if (fetch.received_ > fetch.limits_.max_response_bytes) {
        fetch.stop_ = absl::ResourceExhaustedError(absl::StrCat("the response body is over the deployment's limit of ",
                                                                fetch.limits_.max_response_bytes, " bytes"));
        return 0;
      }
      fetch.body_.append(data, n);
      read = fetch.TakeRead();
    }
    if (read.has_value()) std::move(read->first)(std::move(read->second));
    absl::MutexLock lock(&fetch.mu_);
    // curl waits here while the reader is behind.
    auto room = [&fetch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fetch.mu_) {
      return fetch.body_.size() < kBufferBytes || !fetch.stop_.ok();
    };
    if (!fetch.mu_.AwaitWithDeadline(absl::Condition(&room), fetch.deadline_) && fetch.stop_.ok()) {
      fetch.stop_ = absl::DeadlineExceededError("the fetch ran out of time");
    }
    return fetch.stop_.ok() ? n : 0;
  }

  // The next bytes of a streamed request body, waiting for user code to give them.
  static size_t OnUpload(char* data, size_t size, size_t count, void* self) {
    Fetch& fetch = *static_cast<Fetch*>(self);
    const size_t n = size * count;
    Fetch::WriteDone done;
    size_t taken = 0;
    {
      absl::MutexLock lock(&fetch.mu_);
      auto ready = [&fetch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fetch.mu_) {
        return !fetch.upload_.empty() || fetch.upload_last_ || !fetch.stop_.ok();
      };
      if (!fetch.mu_.AwaitWithDeadline(absl::Condition(&ready), fetch.deadline_) && fetch.stop_.ok()) {
        fetch.stop_ = absl::DeadlineExceededError("the fetch ran out of time");
      }
      if (!fetch.stop_.ok()) return CURL_READFUNC_ABORT;
      taken = std::min(n, fetch.upload_.size());
      if (fetch.sent_ + taken > fetch.limits_.max_request_bytes) {
        fetch.stop_ = absl::ResourceExhaustedError(absl::StrCat("the request body is over the deployment's limit of ",
                                                                fetch.limits_.max_request_bytes, " bytes"));
        return CURL_READFUNC_ABORT;
      }
      std::memcpy(data, fetch.upload_.data(), taken);
      fetch.upload_.erase(0, taken);
      fetch.sent_ += taken;
      if (fetch.upload_.empty() && fetch.write_done_) done = std::exchange(fetch.write_done_, nullptr);
    }
    if (done) std::move(done)(absl::OkStatus());
    return taken;  // 0 once the last part is sent: the body's end
  }

  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    Fetch& fetch = *static_cast<Fetch*>(self);
    absl::MutexLock lock(&fetch.mu_);
    if (fetch.stop_.ok() && absl::Now() > fetch.deadline_) {
      fetch.stop_ = absl::DeadlineExceededError("the fetch ran out of time");
    }
    return fetch.stop_.ok() ? 0 : 1;
  }
};

Fetch::Fetch(std::string deployment, EgressPolicy policy, FetchLimits limits, FetchRequest request, absl::Time deadline)
    : deployment_(std::move(deployment)),
      policy_(std::move(policy)),
      limits_(limits),
      request_(std::move(request)),
      deadline_(std::min(deadline, absl::Now() + limits.timeout)) {}

void Fetch::Write(std::string part, bool last, WriteDone done) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (!request_.streamed_body || upload_last_) {
      refused = absl::FailedPreconditionError("this request's body is complete");
    } else if (write_done_) {
      refused = absl::FailedPreconditionError("one write at a time");
    } else if (!stop_.ok() || ended_.has_value()) {
      refused = absl::CancelledError("the request has finished");
    } else {
      upload_ += part;
      upload_last_ = last;
      if (!upload_.empty()) {
        write_done_ = std::move(done);
        return;
      }
    }
  }
  std::move(done)(refused);
}

void Fetch::Head(HeadDone done) {
  absl::StatusOr<FetchHead> head;
  {
    absl::MutexLock lock(&mu_);
    if (!head_.has_value()) {
      if (head_done_) {
        head = absl::FailedPreconditionError("the response's head is already asked for");
      } else {
        head_done_ = std::move(done);
        return;
      }
    } else {
      head = *head_;
      if (head_->ok()) (*head_)->headers.clear();  // handed over: not held twice
    }
  }
  std::move(done)(std::move(head));
}

void Fetch::Read(size_t max_bytes, ReadDone done) {
  PendingRead read;
  absl::AnyInvocable<void() &&> release;
  {
    absl::MutexLock lock(&mu_);
    if (read_done_) {
      read.emplace(std::move(done), absl::FailedPreconditionError("one read at a time"));
    } else {
      read_done_ = std::move(done);
      read_max_ = std::max<size_t>(1, max_bytes);
      read = TakeRead();
    }
    release = TakeRelease();
  }
  if (release) std::move(release)();
  if (read.has_value()) std::move(read->first)(std::move(read->second));
}

bool Fetch::Drained() {
  absl::MutexLock lock(&mu_);
  return ended_.has_value() && ended_->ok() && body_.empty();
}

void Fetch::OnRelease(absl::AnyInvocable<void() &&> release) {
  absl::MutexLock lock(&mu_);
  release_ = std::move(release);
}

absl::AnyInvocable<void() &&> Fetch::TakeRelease() {
  if (!ended_.has_value() || body_.size() > kReleasedBodyBytes) return nullptr;
  return std::exchange(release_, nullptr);
}

Fetch::~Fetch() {
  // Whatever happened, a slot is never kept by a request that is gone.
  if (release_) std::move(release_)();
}

void Fetch::Cancel(absl::Status why) {
  HeadDone head_done;
  PendingRead read;
  WriteDone write_done;
  absl::AnyInvocable<void() &&> release;
  {
    absl::MutexLock lock(&mu_);
    if (ended_.has_value()) {
      body_.clear();  // nobody will read it: the slot goes now
      release = TakeRelease();
    } else {
      if (stop_.ok()) stop_ = why;
      // Whoever waits hears now, even while curl is still resolving or connecting.
      if (!head_.has_value()) {
        head_ = why;
        head_done = std::exchange(head_done_, nullptr);
      }
      ended_ = why;
      body_.clear();
      read = TakeRead();
      write_done = std::exchange(write_done_, nullptr);
      release = TakeRelease();
    }
  }
  if (release) std::move(release)();
  if (head_done) std::move(head_done)(why);
  if (read.has_value()) std::move(read->first)(std::move(read->second));
  if (write_done) std::move(write_done)(why);
}

Fetch::PendingRead Fetch::TakeRead() {
  if (!read_done_) return std::nullopt;
  if (!body_.empty()) {
    const size_t take = std::min(read_max_, body_.size());
    std::string part = body_.substr(0, take);
    body_.erase(0, take);
    return PendingRead(std::in_place, std::exchange(read_done_, nullptr), std::move(part));
  }
  if (!ended_.has_value()) return std::nullopt;
  absl::StatusOr<std::string> end = ended_->ok() ? absl::StatusOr<std::string>("") : *ended_;
  return PendingRead(std::in_place, std::exchange(read_done_, nullptr), std::move(end));
}

std::optional<Fetch::HeadDone> Fetch::HeadersComplete() {
  if (hop_status_ < 200) {  // an interim response: the real one follows
    hop_headers_.clear();
    return std::nullopt;
  }
  const bool has_location = std::any_of(hop_headers_.begin(), hop_headers_.end(),
                                        [](const auto& header) { return header.first == "location"; });
  if (IsRedirect(hop_status_) && has_location) {
    if (request_.redirect == RedirectMode::kFollow) {
      hop_redirect_ = true;
      return std::nullopt;
    }
    if (request_.redirect == RedirectMode::kError) {
      stop_ = absl::FailedPreconditionError("fetch attempted redirect");  // Convex's words
      return std::nullopt;
    }
  }
  if (head_.has_value()) return std::nullopt;  // cancelled meanwhile
  head_ = FetchHead{hop_status_, hop_status_text_, std::move(hop_headers_), hop_url_, redirects_ > 0};
  hop_headers_.clear();
  return std::exchange(head_done_, nullptr);
}

absl::Status Fetch::RunHop(void* handle, bool& follow) {
  CURL* curl = static_cast<CURL*>(handle);
  curl_easy_reset(curl);
  std::string url;
  bool has_user_agent = false;
  bool has_accept_encoding = false;
  bool has_content_type = false;
  curl_slist* headers = nullptr;
  {
    absl::MutexLock lock(&mu_);
    url = hop_url_;
    hop_redirect_ = false;
    hop_status_ = 0;
    hop_headers_.clear();
    header_bytes_ = 0;
    refused_ = absl::OkStatus();
  }
  for (const auto& [name, value] : request_.headers) {
    has_user_agent |= name == "user-agent";
    has_accept_encoding |= name == "accept-encoding";
    has_content_type |= name == "content-type";
    headers = curl_slist_append(headers, absl::StrCat(name, value.empty() ? ";" : ": ", value).c_str());
  }
  // Curl would ask for 100-continue before a large body, and a streamed body goes chunked.
  headers = curl_slist_append(headers, "Expect:");
  if (request_.streamed_body) headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
  // Curl would label a POST body form data; fetch sends no content type it was not given.
  if (!has_content_type) headers = curl_slist_append(headers, "Content-Type:");

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // never the environment's proxy: the check is on the peer itself
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_QUICK_EXIT, 1L);  // a cancelled request does not wait for its name lookup
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &CurlCallbacks::OpenSocket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &CurlCallbacks::OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CurlCallbacks::OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
  // Large reads from the socket: a body reaches the reader in few, large parts (each part is a host
  // call away from the worker), while a trickle still goes as it comes.
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, static_cast<long>(256 << 10));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &CurlCallbacks::OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
  const absl::Duration left = deadline_ - absl::Now();
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(std::min(left, kConnectTimeout)))));
  if (!has_user_agent) curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent);
  if (!has_accept_encoding) curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // what curl can decode
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);

  const std::string& method = request_.method;
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request_.body.has_value() || request_.streamed_body) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    if (request_.streamed_body) {
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, &CurlCallbacks::OnUpload);
      curl_easy_setopt(curl, CURLOPT_READDATA, this);
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(-1));
    } else {
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_.body->size()));
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request_.body->data());
    }
    if (method != "POST") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);

  absl::MutexLock lock(&mu_);
  if (!stop_.ok()) return stop_;
  if (hop_redirect_) {
    follow = true;
    return absl::OkStatus();
  }
  if (code != CURLE_OK) {
    if (!refused_.ok() && code == CURLE_COULDNT_CONNECT) return refused_;
    const std::string detail = error[0] != '\0' ? std::string(absl::StripTrailingAsciiWhitespace(error)) : curl_easy_strerror(code);
    return absl::UnavailableError(absl::StrCat("error sending request for url (", url, "): ", detail));
  }
  if (!head_.has_value()) return absl::UnavailableError(absl::StrCat("no response from ", url));
  return absl::OkStatus();
}

absl::Status Fetch::Redirect() {
  absl::MutexLock lock(&mu_);
  std::string location;
  for (const auto& [name, value] : hop_headers_) {
    if (name == "location") location = value;
  }
  if (++redirects_ > kMaxRedirects) {
    return absl::FailedPreconditionError("fetch too many redirects");  // Convex's words, past kMaxRedirects
  }
  Url from;
  from.Set(hop_url_);
  Url to;
  if (!to.Set(hop_url_) || !to.Set(location)) {
    return absl::UnavailableError(absl::StrCat("the redirect's location is not a URL: '", location.substr(0, 200), "'"));
  }
  if (absl::Status scheme = CheckScheme(to, "a redirect"); !scheme.ok()) return scheme;
  // As the Fetch standard: 303 (other than for HEAD), and 301/302 after a POST, become a GET without
  // a body; the others resend the request as it was.
  const bool to_get = (hop_status_ == 303 && request_.method != "HEAD") ||
                      ((hop_status_ == 301 || hop_status_ == 302) && request_.method == "POST");
  if (to_get) {
    request_.method = "GET";
    request_.body.reset();
    request_.streamed_body = false;
    DropHeaders(request_.headers, [](absl::string_view name) { return absl::StartsWith(name, "content-"); });
  } else if (request_.streamed_body) {
    return absl::UnavailableError("cannot follow a redirect with a streamed request body");
  }
  if (from.Origin() != to.Origin()) {
    DropHeaders(request_.headers, [](absl::string_view name) { return name == "authorization"; });
  }
  hop_url_ = to.Get(CURLUPART_URL);
  hop_host_ = to.Host();
  return absl::OkStatus();
}

void Fetch::Run() {
  absl::Status outcome;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    outcome = absl::InternalError("cannot make a curl handle");
  } else {
    {
      absl::MutexLock lock(&mu_);
      Url url;
      url.Set(request_.url);
      hop_url_ = url.Get(CURLUPART_URL);
      hop_host_ = url.Host();
    }
    for (;;) {
      bool follow = false;
      outcome = RunHop(curl, follow);
      if (!outcome.ok() || !follow) break;
      outcome = Redirect();
      if (!outcome.ok()) break;
    }
    curl_easy_cleanup(curl);
  }
  Finish(outcome);
}

void Fetch::Finish(absl::Status outcome) {
  HeadDone head_done;
  PendingRead read;
  WriteDone write_done;
  absl::AnyInvocable<void() &&> release;
  {
    absl::MutexLock lock(&mu_);
    if (!head_.has_value()) {
      head_ = outcome.ok() ? absl::UnavailableError("the server sent no response") : outcome;
      head_done = std::exchange(head_done_, nullptr);
    }
    if (!ended_.has_value()) ended_ = outcome;
    read = TakeRead();
    write_done = std::exchange(write_done_, nullptr);
    upload_last_ = true;
    release = TakeRelease();
  }
  if (release) std::move(release)();
  if (head_done) {
    absl::StatusOr<FetchHead> head = absl::UnavailableError("no response");
    {
      absl::MutexLock lock(&mu_);
      head = *head_;
      if (head_->ok()) (*head_)->headers.clear();  // handed over: not held twice
    }
    std::move(head_done)(std::move(head));
  }
  if (read.has_value()) std::move(read->first)(std::move(read->second));
  if (write_done) std::move(write_done)(absl::CancelledError("the request has finished"));
  LogLine(outcome);
}

void Fetch::LogLine(const absl::Status& outcome) {
  // Never the URL's path or query (they carry keys), never a body or a header.
  absl::MutexLock lock(&mu_);
  const int status = head_.has_value() && head_->ok() ? (*head_)->status : 0;
  ISOBAR_LOG(kInfo, "egress") << "deployment " << deployment_ << " " << request_.method.substr(0, 20) << " " << hop_host_
                              << " status " << status << " sent " << sent_ + (request_.body ? request_.body->size() : 0)
                              << " received " << received_ << " in "
                              << absl::ToInt64Milliseconds(absl::Now() - started_) << " ms"
                              << (redirects_ > 0 ? absl::StrCat(" after ", redirects_, " redirects") : "")
                              << (outcome.ok() ? std::string() : absl::StrCat(": ", outcome.message()));
}

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

absl::StatusOr<std::shared_ptr<Fetch>> HttpFetcher::Start(const std::string& deployment, EgressPolicy policy,
                                                          FetchLimits limits, FetchRequest request, absl::Time deadline) {
  absl::StatusOr<std::string> host = FetchableHost(request.url);
  if (!host.ok()) return host.status();
  if (!IsToken(request.method)) return absl::InvalidArgumentError("Invalid method");
  HeaderPairs headers;
  for (auto& [name, value] : request.headers) {
    std::string lower = absl::AsciiStrToLower(name);
    if (!IsToken(lower)) return absl::InvalidArgumentError(absl::StrCat("Invalid header name: '", name.substr(0, 100), "'"));
    if (!IsHttpFieldValue(value)) {
      return absl::InvalidArgumentError(absl::StrCat("Invalid header value for '", name.substr(0, 100), "'"));
    }
    if (!IsFramingHeader(lower)) headers.emplace_back(std::move(lower), std::move(value));
  }
  request.headers = std::move(headers);
  if (request.body.has_value() && request.body->size() > limits.max_request_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the request body is over the deployment's limit of ", limits.max_request_bytes, " bytes"));
  }
  for (const IpAddress& address : options_.local_addresses) policy.local_addresses.push_back(address);
  std::shared_ptr<Fetch> fetch;
  {
    absl::MutexLock lock(&counts_->mu);
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
    fetch->Run();
    absl::MutexLock lock(&counts->mu);
    --counts->threads;
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
