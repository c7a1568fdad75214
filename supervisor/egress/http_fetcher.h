// The supervisor's HTTP client for actions' fetch (issue 19), over libcurl. Workers have no sockets:
// every request an action makes is made here, and each connection is checked by CheckEgress on the
// address curl is about to connect to (after DNS, on every redirect hop: curl's open-socket callback
// sees the address the socket will reach, so a name that resolves differently the second time gains
// nothing). Redirects are followed here, hop by hop, not by curl, so that each hop's URL, scheme and
// method are ours to decide.
//
// Bodies stream both ways in bounded memory: a request body may come a part at a time (Write), and the
// response body is handed over a part at a time (Read), with at most kBufferBytes held; curl waits
// while the buffer is full, so a slow reader slows the server down rather than filling memory.
//
//   HttpFetcher fetcher({.internal = {...}});
//   auto fetch = fetcher.Start("my-app", policy, limits, request, deadline);
//   (*fetch)->Head([](absl::StatusOr<FetchHead> head) { ... });
//   (*fetch)->Read(64 << 10, [](absl::StatusOr<std::string> part) { ... });  // "" at the end
//
// Each request runs on a thread of its own (bounded by Options::max_total), so a slow peer holds one
// thread and nothing else. Every callback is called once, from any thread, with no lock held.
#ifndef ISOBAR_SUPERVISOR_EGRESS_HTTP_FETCHER_H_
#define ISOBAR_SUPERVISOR_EGRESS_HTTP_FETCHER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "supervisor/egress/address_policy.h"

namespace isobar::supervisor {

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

enum class RedirectMode { kFollow, kManual, kError };

struct FetchRequest {
  std::string url;
  std::string method = "GET";
  HeaderPairs headers;
  std::optional<std::string> body;  // the whole body, or
  bool streamed_body = false;       // a body given a part at a time through Fetch::Write
  RedirectMode redirect = RedirectMode::kFollow;
};

struct FetchHead {
  int status = 0;
  std::string status_text;
  HeaderPairs headers;  // lower-cased names, in the order received
  std::string url;      // of the response (after redirects)
  bool redirected = false;
};

// A deployment's limits on its fetches (set by the operator with its egress policy).
struct FetchLimits {
  int max_concurrent = 32;
  uint64_t max_request_bytes = uint64_t{64} << 20;
  uint64_t max_response_bytes = uint64_t{256} << 20;
  absl::Duration timeout = absl::Minutes(5);  // the whole request, redirects and body included
};

inline constexpr int kMaxRedirects = 20;
// Response bytes held for the reader at most (and request bytes waiting for curl).
inline constexpr size_t kBufferBytes = 1 << 20;
// A request holds its deployment's slot (FetchLimits::max_concurrent) until its response is read to
// the end, or cancelled, or it has ended with at most this much left unread: an action that never
// reads its responses' bodies holds at most max_concurrent buffers of kBufferBytes, and small ones
// (at most 1000 of them an action: fetch_calls.cc).
inline constexpr size_t kReleasedBodyBytes = 16 << 10;

// Refusals and failures reach user code as these codes; the message says what happened.
//   PERMISSION_DENIED    the egress policy refused an address, host, port or scheme
//   INVALID_ARGUMENT     a malformed URL, method or header
//   FAILED_PRECONDITION  a redirect the request's mode refuses, or more than kMaxRedirects
//   RESOURCE_EXHAUSTED   a limit: concurrent requests, body bytes
//   DEADLINE_EXCEEDED    out of time
//   CANCELLED            aborted by the caller
//   UNAVAILABLE          the network: no such host, refused connection, TLS, a broken response
class Fetch {
 public:
  using HeadDone = absl::AnyInvocable<void(absl::StatusOr<FetchHead>) &&>;
  using ReadDone = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;
  using WriteDone = absl::AnyInvocable<void(absl::Status) &&>;

  Fetch(std::string deployment, EgressPolicy policy, FetchLimits limits, FetchRequest request, absl::Time deadline);
  ~Fetch();
  Fetch(const Fetch&) = delete;
  Fetch& operator=(const Fetch&) = delete;

  // A part of a streamed request body (`last` ends it); `done` once curl has taken it. One at a time.
  void Write(std::string part, bool last, WriteDone done) ABSL_LOCKS_EXCLUDED(mu_);
  // The final response's status and headers. Once.
  void Head(HeadDone done) ABSL_LOCKS_EXCLUDED(mu_);
  // The next 1..max_bytes bytes of the response body, "" at its end. One at a time.
  void Read(size_t max_bytes, ReadDone done) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the response has ended well and every byte of it has been read (the next Read is "").
  bool Drained() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the request (if it is still going): waiting callbacks get `why`.
  void Cancel(absl::Status why) ABSL_LOCKS_EXCLUDED(mu_);

  // The request, on the calling thread (HttpFetcher gives it one); how it ended (OK: a response came
  // and ended well; else why not: PERMISSION_DENIED for an address the egress policy refused).
  absl::Status Run() ABSL_LOCKS_EXCLUDED(mu_);
  // Called once, under the request's lock, when it no longer holds its slot (see kReleasedBodyBytes):
  // a reader given the response's end, or a Cancel returning, finds the slot free. Before Run.
  void OnRelease(absl::AnyInvocable<void() &&> release) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend struct CurlCallbacks;  // http_fetcher.cc: curl's callbacks, which work on the state below
  using PendingRead = std::optional<std::pair<ReadDone, absl::StatusOr<std::string>>>;

  // One hop (the request, or a redirect's): OK with `follow` set when it answered a redirect to follow.
  absl::Status RunHop(void* curl, bool& follow) ABSL_LOCKS_EXCLUDED(mu_);
  // The next hop's URL, method and body after a redirect.
  absl::Status Redirect() ABSL_LOCKS_EXCLUDED(mu_);
  // The hop's headers are in: a redirect to follow, or the final response (a callback to call).
  std::optional<HeadDone> HeadersComplete() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(absl::Status outcome) ABSL_LOCKS_EXCLUDED(mu_);
  // Hands buffered bytes (or the end) to a waiting reader: the callback to call unlocked.
  PendingRead TakeRead() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Calls the release callback once the request no longer holds its slot.
  void ReleaseIfDone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LogLine(const absl::Status& outcome) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string deployment_;
  const EgressPolicy policy_;
  const FetchLimits limits_;
  FetchRequest request_;
  const absl::Time deadline_;
  const absl::Time started_ = absl::Now();

  absl::Mutex mu_;
  absl::Status stop_ ABSL_GUARDED_BY(mu_);  // why to stop (Cancel, a limit, a refusal); OK while going
  absl::Status refused_ ABSL_GUARDED_BY(mu_);  // the last address the policy refused (others may follow)
  size_t header_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // The current hop's response as its headers arrive.
  std::string hop_url_ ABSL_GUARDED_BY(mu_);
  std::string hop_host_ ABSL_GUARDED_BY(mu_);
  int hop_status_ ABSL_GUARDED_BY(mu_) = 0;
  std::string hop_status_text_ ABSL_GUARDED_BY(mu_);
  HeaderPairs hop_headers_ ABSL_GUARDED_BY(mu_);
  bool hop_redirect_ ABSL_GUARDED_BY(mu_) = false;  // the hop answered a redirect we follow
  int redirects_ ABSL_GUARDED_BY(mu_) = 0;
  // The final response.
  std::optional<absl::StatusOr<FetchHead>> head_ ABSL_GUARDED_BY(mu_);
  HeadDone head_done_ ABSL_GUARDED_BY(mu_);
  std::string body_ ABSL_GUARDED_BY(mu_);  // received, not yet read
  std::optional<absl::Status> ended_ ABSL_GUARDED_BY(mu_);
  ReadDone read_done_ ABSL_GUARDED_BY(mu_);
  size_t read_max_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t received_ ABSL_GUARDED_BY(mu_) = 0;
  // A streamed request body.
  std::string upload_ ABSL_GUARDED_BY(mu_);
  bool upload_last_ ABSL_GUARDED_BY(mu_) = false;
  WriteDone write_done_ ABSL_GUARDED_BY(mu_);
  uint64_t sent_ ABSL_GUARDED_BY(mu_) = 0;
  absl::AnyInvocable<void() &&> release_ ABSL_GUARDED_BY(mu_);
};

class HttpFetcher {
 public:
  struct Options {
    // The supervisor's own listeners and PostgreSQL, and the machine's addresses: refused always.
    std::vector<Endpoint> internal;
    std::vector<IpAddress> local_addresses;
    int max_total = 256;  // requests in flight, all deployments together
    // Requests' threads at once: a request whose slot is released (cancelled) may still be ending
    // (curl finishing a name lookup); past this, new requests are refused until some end.
    int max_threads = 512;
  };
  explicit HttpFetcher(Options options);
  ~HttpFetcher() { Shutdown(); }
  // Cancels what is in flight and waits for it; later requests are refused (UNAVAILABLE).
  void Shutdown();
  HttpFetcher(const HttpFetcher&) = delete;
  HttpFetcher& operator=(const HttpFetcher&) = delete;

  // Starts `request` for `deployment` under its policy and limits. INVALID_ARGUMENT for a URL or
  // header that cannot be sent, PERMISSION_DENIED for a scheme other than http(s), RESOURCE_EXHAUSTED
  // past a concurrency limit. The rest (addresses, the network) reach the Fetch's callbacks.
  absl::StatusOr<std::shared_ptr<Fetch>> Start(const std::string& deployment, EgressPolicy policy, FetchLimits limits,
                                               FetchRequest request, absl::Time deadline);

  // Replaces Options::internal (main binds its listeners after making the fetcher).
  void SetInternal(std::vector<Endpoint> internal);

  // Slots held: requests in flight or with bodies left to read (tests).
  int InFlight() const;

  // Requests by what became of them (metrics): refused before they started (a bad URL or header, a
  // limit), started, and of those ended: completed, refused by the egress policy, cancelled (by the
  // action, or its end), failed (the network, the peer, a timeout).
  struct Stats {
    uint64_t rejected = 0, started = 0, completed = 0, denied = 0, cancelled = 0, failed = 0;
  };
  Stats stats() const;

 private:
  // The counts, shared with the requests' threads (which may outlive the last look at them).
  struct InFlightCounts {
    absl::Mutex mu;
    int threads ABSL_GUARDED_BY(mu) = 0;  // requests' threads still running
    int total ABSL_GUARDED_BY(mu) = 0;    // slots held
    std::map<std::string, int> per_deployment ABSL_GUARDED_BY(mu);
    std::vector<std::weak_ptr<Fetch>> running ABSL_GUARDED_BY(mu);
    std::vector<Endpoint> internal ABSL_GUARDED_BY(mu);
    bool stopped ABSL_GUARDED_BY(mu) = false;
    Stats stats ABSL_GUARDED_BY(mu);
  };
  absl::StatusOr<std::shared_ptr<Fetch>> Rejected(absl::Status status);

  const Options options_;
  const std::shared_ptr<InFlightCounts> counts_ = std::make_shared<InFlightCounts>();
};

// The machine's own addresses (getifaddrs), which stand for its unspecified-address listeners.
std::vector<IpAddress> MachineAddresses();
// The endpoints a listener or server at `host`:`port` is reached at (`host` an address, or a name
// resolved now); none for a unix socket directory.
std::vector<Endpoint> EndpointsOf(const std::string& host, int port);

// Checks that `url` is an absolute http(s) URL curl can send; its host in lower case.
absl::StatusOr<std::string> FetchableHost(const std::string& url);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_EGRESS_HTTP_FETCHER_H_
