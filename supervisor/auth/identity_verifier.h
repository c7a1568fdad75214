// Turning a user's token into the UserIdentity functions read with ctx.auth.getUserIdentity(), as
// Convex does (issue 19): the token's issuer (and audience) pick a provider of the deployment's
// auth.config; an OIDC provider's keys come from the issuer's discovery document and its jwks_uri, a
// customJwt provider's from its jwks URL (or data: URL); the signature and claims are checked
// (jwt.h); the identity is derived from the claims.
//
// Documents are fetched through `DocumentFetcher` (the gateway fetches them through the egress
// client, under the deployment's egress policy) and cached per deployment and URL for as long as
// their Cache-Control says (5 minutes when it says nothing, a day at most); a failed fetch is
// remembered for 30 s. A token whose `kid` is not in the cached key set makes the set be fetched
// again once (the issuer rotated its keys). A document is fetched by one call at a time (others wait
// for its answer, up to 10 s); a failing issuer's last good document serves on. Fetching blocks the
// caller: at most 4 fetches at once per deployment and 16 in all; past that a call is refused at once
// (UNAVAILABLE, retryable, never UNAUTHENTICATED), so a slow or hostile key server cannot hold the
// threads that serve everyone.
//
// Refusals are UNAUTHENTICATED, in Convex's words.
#ifndef ISOBAR_SUPERVISOR_AUTH_IDENTITY_VERIFIER_H_
#define ISOBAR_SUPERVISOR_AUTH_IDENTITY_VERIFIER_H_

#include <functional>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/value.h"
#include "supervisor/auth/auth_config.h"
#include "supervisor/auth/jwt.h"

namespace isobar::supervisor {

// A document fetched for verification: its status, Content-Type, Cache-Control and body.
struct FetchedDocument {
  int status = 0;
  std::string content_type;
  std::string cache_control;
  std::string body;
};
using DocumentFetcher = std::function<absl::StatusOr<FetchedDocument>(const std::string& url)>;

// The UserIdentity (Convex JSON object) Convex derives from verified claims: OIDC providers map the
// standard claims to camelCase fields and keep the rest as they are; customJwt providers keep every
// claim but the registered ones under its own name, nested objects flattened to dotted keys.
// UNAUTHENTICATED when the claims cannot make one (a claim name Convex values cannot hold).
absl::StatusOr<std::string> IdentityFromClaims(const storage::Value& claims, AuthProvider::Kind kind);

// How long a document may be used: Cache-Control's max-age (0 for no-store or no-cache), 5 minutes
// when it says nothing, at most a day.
absl::Duration CacheLifetime(absl::string_view cache_control);

class IdentityVerifier {
 public:
  IdentityVerifier() = default;
  IdentityVerifier(const IdentityVerifier&) = delete;
  IdentityVerifier& operator=(const IdentityVerifier&) = delete;

  // The identity `token` stands for, among `deployment`'s `providers`; `expires`, if given, gets the
  // token's expiry (sessions end the identity then).
  absl::StatusOr<std::string> Verify(absl::string_view deployment, const std::vector<AuthProvider>& providers,
                                     absl::string_view token, const DocumentFetcher& fetch,
                                     absl::Time now = absl::Now(), absl::Time* expires = nullptr) ABSL_LOCKS_EXCLUDED(mu_);

  // Fetches made (tests: caching).
  int fetches() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The document at `url`, from the cache while it is fresh. `missing_kid`: a key set is wanted
  // again for a token whose kid it lacked; fetched again unless that kid was looked for lately, or the
  // set was fetched again too often in the last minute (a stream of made-up kids is not a stream of
  // fetches; a rotation's new kid is).
  absl::StatusOr<std::string> Document(absl::string_view deployment, const std::string& url,
                                       const std::optional<std::string>& missing_kid, const DocumentFetcher& fetch,
                                       absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<storage::Value> VerifyWithKeys(absl::string_view deployment, const std::string& jwks_url,
                                                absl::string_view token, const JwtCheck& check,
                                                const DocumentFetcher& fetch, absl::Time now);

  struct Cached {
    std::string body;
    absl::Time expires;
    std::deque<absl::Time> refreshes;               // fetched again for a missing kid, in the last minute
    std::map<std::string, absl::Time> missed_kids;  // kids looked for and not found, lately
    absl::Status failure;  // the last fetch's, until `expires`
  };
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Cached> cache_ ABSL_GUARDED_BY(mu_);  // by deployment, URL
  int fetches_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::pair<std::string, std::string>> in_progress_ ABSL_GUARDED_BY(mu_);  // documents being fetched
  int fetching_ ABSL_GUARDED_BY(mu_) = 0;  // fetches under way, in all and by deployment
  std::map<std::string, int> fetching_by_deployment_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_AUTH_IDENTITY_VERIFIER_H_
