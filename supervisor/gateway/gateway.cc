#include "supervisor/gateway/gateway.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "storage/convex_json.h"
#include "supervisor/egress/egress_config.h"
#include "supervisor/runner/error_detail.h"

namespace isobar::supervisor {
namespace {

constexpr absl::Duration kRememberKeys = absl::Minutes(1);
constexpr size_t kMaxRememberedKeys = 4096;
constexpr size_t kMaxIdentityBytes = 64 << 10;

}  // namespace

Gateway::Gateway(GatewayOptions options, FunctionRunner& runner, Admission& admission, LiveDeployments& deployments,
                 storage::PgPool& pg, ReadTracker& tracker, QueryCache& cache)
    : options_(std::move(options)),
      runner_(runner),
      admission_(admission),
      deployments_(deployments),
      api_keys_(pg),
      tracker_(tracker),
      cache_(cache) {}

absl::Status Gateway::CheckIdentity(const std::string& identity_json) {
  if (identity_json.empty()) return absl::OkStatus();
  if (identity_json.size() > kMaxIdentityBytes) return absl::InvalidArgumentError("identity_json is too large");
  absl::StatusOr<storage::Value> identity = storage::ParseConvexJson(identity_json);
  if (!identity.ok() || identity->type() != storage::Value::Type::kObject) {
    return absl::InvalidArgumentError("identity_json must be a Convex JSON object");
  }
  for (const char* field : {"tokenIdentifier", "subject", "issuer"}) {
    if (identity->Get(field).type() != storage::Value::Type::kString) {
      return absl::InvalidArgumentError(absl::StrCat("identity_json needs a string `", field, "`"));
    }
  }
  return absl::OkStatus();
}

std::string Gateway::Fingerprint(const std::string& deployment, absl::string_view key) {
  return Sha256(absl::StrCat(deployment.size(), ":", deployment, key));
}

std::optional<absl::StatusOr<Access>> Gateway::KnownAccess(const std::string& deployment, absl::string_view key) {
  if (key.empty()) {
    return absl::UnauthenticatedError("Functions calls need the deployment's API key as 'authorization: Bearer <key>'");
  }
  if (!options_.admin_key.empty() && ConstantTimeEquals(key, options_.admin_key)) return Access::kInternal;
  const std::string fingerprint = Fingerprint(deployment, key);
  absl::MutexLock lock(&mu_);
  auto it = verified_.find(fingerprint);
  if (it != verified_.end() && it->second.until > absl::Now()) return it->second.access;
  return std::nullopt;
}

absl::StatusOr<Access> Gateway::Authorize(const std::string& deployment, absl::string_view key) {
  if (std::optional<absl::StatusOr<Access>> known = KnownAccess(deployment, key); known.has_value()) return *known;
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = deployments_.Get(deployment);
  // An unknown deployment and a wrong key look the same to the caller.
  if (absl::IsNotFound(live.status()) || absl::IsInvalidArgument(live.status())) {
    return absl::UnauthenticatedError("the API key is not valid for this deployment");
  }
  if (!live.ok()) return live.status();
  absl::StatusOr<std::optional<storage::KeyScope>> scope = api_keys_.Verify((*live)->info().id, key);
  if (!scope.ok()) return scope.status();
  if (!scope->has_value()) return absl::UnauthenticatedError("the API key is not valid for this deployment");
  const Access access = **scope == storage::KeyScope::kDeploymentAdmin ? Access::kInternal : Access::kPublic;
  const std::string fingerprint = Fingerprint(deployment, key);
  absl::MutexLock lock(&mu_);
  if (verified_.size() >= kMaxRememberedKeys) verified_.clear();
  verified_[fingerprint] = Verified{absl::Now() + kRememberKeys, access};
  return access;
}

absl::Time Gateway::DeadlineFor(FunctionKind kind, absl::Time client_deadline) const {
  return std::min(client_deadline, absl::Now() + (kind == FunctionKind::kAction ? options_.default_action_deadline
                                                                                 : options_.default_deadline));
}

QuerySetEnvironment Gateway::QuerySetEnvironmentOn(Executor& executor) {
  QuerySetEnvironment environment;
  environment.tracker = &tracker_;
  environment.cache = &cache_;
  environment.run = [this](FunctionCallRequest request, FunctionCallback done) {
    AdmitAndRun(std::move(request), std::move(done));
  };
  environment.executor = &executor;
  environment.query_deadline = options_.default_deadline;
  return environment;
}

void Gateway::Call(FunctionCallRequest call, FunctionCallback done) {
  if (call.kind == FunctionKind::kQuery) {
    absl::StatusOr<std::shared_ptr<LiveDeployment>> live = deployments_.Get(call.deployment);
    std::shared_ptr<const CodeVersion> code = live.ok() ? (*live)->code() : nullptr;
    if (code != nullptr) {
      const storage::Timestamp at = tracker_.Now(call.deployment, (*live)->db());
      auto shared_done = std::make_shared<FunctionCallback>(std::move(done));
      cache_.Evaluate(
          std::move(call), code->version(), at,
          [this](FunctionCallRequest request, FunctionCallback run_done) {
            AdmitAndRun(std::move(request), std::move(run_done));
          },
          [shared_done](std::shared_ptr<QueryResult> result) { std::move(*shared_done)(result->outcome()); });
      return;
    }
  }
  AdmitAndRun(std::move(call), std::move(done));
}

void Gateway::AdmitAndRun(FunctionCallRequest call, FunctionCallback done) {
  if (options_.database_available && !options_.database_available()) {
    std::move(done)(FunctionOutcome::Failure(absl::UnavailableError(
        "The database is unavailable (PostgreSQL is restarting or unreachable); nothing was run. Retry shortly.")));
    return;
  }
  const std::string deployment = call.deployment;
  const FunctionKind kind = call.kind;
  const absl::Time deadline = call.deadline;
  auto shared_done = std::make_shared<FunctionCallback>(std::move(done));
  admission_.Admit(
      deployment, kind, deadline,
      [this, call = std::move(call), shared_done](Admission::Ticket ticket) mutable {
        // Admitted on an executor thread (at once, or from the queue): start right here.
        runner_.RunOnThisThread(std::move(call), [shared_done, ticket = std::move(ticket)](FunctionOutcome outcome) mutable {
          ticket.Release();
          std::move(*shared_done)(std::move(outcome));
        });
      },
      [shared_done](absl::Status refused) { std::move(*shared_done)(FunctionOutcome::Failure(refused)); });
}

}  // namespace isobar::supervisor

namespace isobar::supervisor {
namespace {

// What one identity document may hold at most.
constexpr size_t kMaxDocumentBytes = 1 << 20;
constexpr absl::Duration kDocumentTimeout = absl::Seconds(5);

// GET `url` whole, through the egress client under `deployment`'s policy.
absl::StatusOr<FetchedDocument> FetchDocument(HttpFetcher& fetcher, LiveDeployment& deployment, const std::string& url) {
  absl::StatusOr<EgressConfig> config = LoadEgressConfig(deployment.db().catalog(), deployment.info().id);
  if (!config.ok()) return config.status();
  FetchLimits limits = config->limits;
  limits.max_response_bytes = std::min<uint64_t>(limits.max_response_bytes, kMaxDocumentBytes);
  FetchRequest request;
  request.url = url;
  request.headers = {{"accept", "application/json"}};
  absl::StatusOr<std::shared_ptr<Fetch>> fetch =
      fetcher.Start(deployment.info().name, config->policy, limits, request, absl::Now() + kDocumentTimeout);
  if (!fetch.ok()) return fetch.status();
  FetchedDocument document;
  absl::Notification headed;
  absl::Status status;
  (*fetch)->Head([&](absl::StatusOr<FetchHead> head) {
    if (head.ok()) {
      document.status = head->status;
      for (const auto& [name, value] : head->headers) {
        if (name == "content-type") document.content_type = value;
        if (name == "cache-control") document.cache_control = value;
      }
    } else {
      status = head.status();
    }
    headed.Notify();
  });
  headed.WaitForNotification();
  while (status.ok()) {
    absl::Notification read;
    std::string part;
    (*fetch)->Read(64 << 10, [&](absl::StatusOr<std::string> got) {
      if (got.ok()) {
        part = *std::move(got);
      } else {
        status = got.status();
      }
      read.Notify();
    });
    read.WaitForNotification();
    if (part.empty()) break;
    document.body += part;
  }
  if (!status.ok()) return status;
  return document;
}

}  // namespace

absl::StatusOr<std::string> Gateway::VerifyUserToken(const std::string& deployment, absl::string_view token,
                                                     absl::Time* expires) {
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = deployments_.Get(deployment);
  if (!live.ok()) return absl::UnauthenticatedError("No auth provider found matching the given token");
  std::shared_ptr<const CodeVersion> code = (*live)->code();
  static const std::vector<AuthProvider> kNone;
  const std::vector<AuthProvider>& providers = code != nullptr ? code->auth_providers() : kNone;
  std::shared_ptr<LiveDeployment> held = *live;
  DocumentFetcher fetch = [this, held](const std::string& url) -> absl::StatusOr<FetchedDocument> {
    if (options_.fetcher == nullptr) return absl::UnavailableError("this server fetches no identity documents");
    return FetchDocument(*options_.fetcher, *held, url);
  };
  return verifier_.Verify(deployment, providers, token, fetch, absl::Now(), expires);
}

}  // namespace isobar::supervisor
