// A client's call into a deployment, whatever protocol carried it (gRPC's Functions service, the
// Convex HTTP API, the WebSocket sync protocol): its key, its identity, then the query cache or
// admission, then the runner. The protocols differ only in how they read a request and write an
// outcome; what a call may do and how it runs is decided here, once.
//
//   absl::StatusOr<Access> access = gateway.Authorize(deployment, key);   // may read the catalog
//   gateway.Call(std::move(request), [](FunctionOutcome outcome) { ... });
//
// Verified keys are remembered for a minute (by hash, never the key itself), so a call does not pay a
// catalog round trip; `KnownAccess` answers from that memory alone, for callers on a thread that
// must not wait.
#ifndef ISOBAR_SUPERVISOR_GATEWAY_GATEWAY_H_
#define ISOBAR_SUPERVISOR_GATEWAY_GATEWAY_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/api_keys.h"
#include "storage/pg_pool.h"
#include "supervisor/auth/identity_verifier.h"
#include "supervisor/deploy/live_deployments.h"
#include "supervisor/egress/http_fetcher.h"
#include "supervisor/reactivity/live_query_set.h"
#include "supervisor/reactivity/query_cache.h"
#include "supervisor/reactivity/read_tracker.h"
#include "supervisor/runner/admission.h"
#include "supervisor/runner/function_runner.h"

namespace isobar::supervisor {

struct GatewayOptions {
  std::string admin_key;  // the server's: every deployment, internal functions too
  // Used when the client sets no deadline (or a later one).
  absl::Duration default_deadline = absl::Minutes(1);
  absl::Duration default_action_deadline = absl::Minutes(10);
  // False while PostgreSQL is away (storage::PostgresMonitor): calls that would run fail at once,
  // UNAVAILABLE and retryable, instead of each finding out on its own. Unset: always available.
  std::function<bool()> database_available;
  // Fetches the identity providers' discovery documents and keys (under each deployment's egress
  // policy). Null: user tokens are refused.
  HttpFetcher* fetcher = nullptr;
};

// What a key admits in one deployment.
enum class Access {
  kPublic,    // the deployment's API key: public functions
  kInternal,  // the server's or the deployment's admin key: internal functions too
};

class Gateway {
 public:
  // Not owned; all must outlive the gateway.
  Gateway(GatewayOptions options, FunctionRunner& runner, Admission& admission, LiveDeployments& deployments,
          storage::PgPool& pg, ReadTracker& tracker, QueryCache& cache);

  // An identity must be empty or an object naming its token, subject and issuer, as Convex's
  // UserIdentity does.
  static absl::Status CheckIdentity(const std::string& identity_json);

  // `key`'s access to `deployment` when it is known without the catalog (the server's admin key, a key
  // verified lately, no key at all); nullopt otherwise.
  std::optional<absl::StatusOr<Access>> KnownAccess(const std::string& deployment, absl::string_view key)
      ABSL_LOCKS_EXCLUDED(mu_);
  // `key`'s access to `deployment`; may read the catalog, so never on a thread that must not wait.
  // An unknown deployment and a wrong key look the same: UNAUTHENTICATED.
  absl::StatusOr<Access> Authorize(const std::string& deployment, absl::string_view key) ABSL_LOCKS_EXCLUDED(mu_);

  // The UserIdentity (Convex JSON) a user's token stands for in `deployment`, from the providers of
  // its auth.config; UNAUTHENTICATED, in Convex's words, when it stands for none. May fetch the
  // issuer's documents, so never on a thread that must not wait.
  // `expires`, if given, gets the token's expiry.
  absl::StatusOr<std::string> VerifyUserToken(const std::string& deployment, absl::string_view token,
                                              absl::Time* expires = nullptr);

  // An authorized call (its `allow_internal` set from the access): a query goes through the query
  // cache at the newest timestamp whose commits the read tracker has seen, so a valid earlier result
  // answers without a worker; anything else, and a cache miss, is admitted and then run.
  void Call(FunctionCallRequest call, FunctionCallback done);
  // Admission, then the runner; the ticket holds the slot until the outcome is known.
  void AdmitAndRun(FunctionCallRequest call, FunctionCallback done);

  // What a live query set (reactivity/live_query_set.h) needs: queries through this gateway's cache
  // and admission, updates on `executor`.
  QuerySetEnvironment QuerySetEnvironmentOn(Executor& executor);

  // The call's deadline: the client's, capped by the default for its kind.
  absl::Time DeadlineFor(FunctionKind kind, absl::Time client_deadline) const;

  LiveDeployments& deployments() { return deployments_; }
  ReadTracker& tracker() { return tracker_; }
  QueryCache& cache() { return cache_; }
  const GatewayOptions& options() const { return options_; }

 private:
  static std::string Fingerprint(const std::string& deployment, absl::string_view key);

  const GatewayOptions options_;
  FunctionRunner& runner_;
  Admission& admission_;
  LiveDeployments& deployments_;
  storage::ApiKeys api_keys_;
  ReadTracker& tracker_;
  QueryCache& cache_;
  IdentityVerifier verifier_;
  absl::Mutex mu_;
  struct Verified {
    absl::Time until;
    Access access;
  };
  absl::flat_hash_map<std::string, Verified> verified_ ABSL_GUARDED_BY(mu_);  // by Fingerprint
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_GATEWAY_GATEWAY_H_
