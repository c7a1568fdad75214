// One request of the egress client (http_fetcher.h): curl's callbacks, redirects hop by hop, bodies
// both ways through bounded buffers, the slot a request holds, and its log line.
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/log.h"
#include "supervisor/egress/curl_internal.h"
#include "supervisor/egress/http_fetcher.h"

namespace isobar::supervisor {
namespace {

using egress_internal::CheckScheme;
using egress_internal::FromSockaddr;
using egress_internal::Url;

// What a response's header section may take in all.
constexpr size_t kMaxHeaderBytes = 64 << 10;
constexpr absl::Duration kConnectTimeout = absl::Seconds(10);
// Sent unless the request sets its own.
constexpr char kUserAgent[] = "Convex/1.0";  // as Convex sends

template <typename Predicate>
void DropHeaders(HeaderPairs& headers, Predicate drop) {
  headers.erase(std::remove_if(headers.begin(), headers.end(), [&drop](const auto& header) { return drop(header.first); }),
                headers.end());
}

bool IsRedirect(int status) { return status == 301 || status == 302 || status == 303 || status == 307 || status == 308; }

}  // namespace

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
  {
    absl::MutexLock lock(&mu_);
    if (read_done_) {
      read.emplace(std::move(done), absl::FailedPreconditionError("one read at a time"));
    } else {
      read_done_ = std::move(done);
      read_max_ = std::max<size_t>(1, max_bytes);
      read = TakeRead();
    }
    ReleaseIfDone();
  }
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

void Fetch::ReleaseIfDone() {
  // Under mu_, so that whoever sees the request ended (a reader given its end, a Cancel returning)
  // sees its slot free too. The release takes the fetcher's lock, which is never held while
  // taking a Fetch's.
  if (!ended_.has_value() || body_.size() > kReleasedBodyBytes || !release_) return;
  std::exchange(release_, nullptr)();
}

Fetch::~Fetch() {
  // Whatever happened, a slot is never kept by a request that is gone.
  if (release_) std::move(release_)();
}

void Fetch::Cancel(absl::Status why) {
  HeadDone head_done;
  PendingRead read;
  WriteDone write_done;
  {
    absl::MutexLock lock(&mu_);
    if (ended_.has_value()) {
      body_.clear();  // nobody will read it: the slot goes now
      ReleaseIfDone();
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
      ReleaseIfDone();
    }
  }
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

absl::Status Fetch::Run() {
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
  absl::MutexLock lock(&mu_);
  return ended_.has_value() ? *ended_ : outcome;  // a Cancel's reason, rather than curl's "aborted"
}

void Fetch::Finish(absl::Status outcome) {
  HeadDone head_done;
  PendingRead read;
  WriteDone write_done;
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
    ReleaseIfDone();
  }
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


}  // namespace isobar::supervisor
