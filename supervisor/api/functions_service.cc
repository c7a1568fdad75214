#include "supervisor/api/functions_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "base/sha256.h"
#include "storage/convex_json.h"
#include "supervisor/api/admin_key.h"
#include "supervisor/runner/error_detail.h"

namespace isobar::supervisor {
namespace {

constexpr absl::Duration kRememberKeys = absl::Minutes(1);
constexpr size_t kMaxRememberedKeys = 4096;
constexpr size_t kMaxIdentityBytes = 64 << 10;
constexpr size_t kMaxIdempotencyKeyBytes = 256;
constexpr size_t kMaxTrailerLogBytes = 4096;

}  // namespace

absl::Status FunctionsService::CheckIdentity(const std::string& identity_json) {
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

std::optional<absl::StatusOr<bool>> FunctionsService::KnownAuthorization(const grpc::ServerContextBase& context,
                                                                         const std::string& deployment) {
  const std::string key = BearerToken(context);
  if (key.empty()) {
    return absl::UnauthenticatedError("Functions calls need the deployment's API key as 'authorization: Bearer <key>'");
  }
  if (SameKey(key, options_.admin_key)) return true;
  const std::string fingerprint = Sha256(absl::StrCat(deployment.size(), ":", deployment, key));
  absl::MutexLock lock(&mu_);
  auto it = verified_.find(fingerprint);
  if (it != verified_.end() && it->second.until > absl::Now()) return it->second.admin;
  return std::nullopt;
}

absl::StatusOr<bool> FunctionsService::Authorize(const grpc::ServerContextBase& context,
                                                 const std::string& deployment) {
  if (std::optional<absl::StatusOr<bool>> known = KnownAuthorization(context, deployment); known.has_value()) {
    return *known;
  }
  const std::string key = BearerToken(context);
  const std::string fingerprint = Sha256(absl::StrCat(deployment.size(), ":", deployment, key));
  const absl::Time now = absl::Now();
  absl::StatusOr<std::shared_ptr<LiveDeployment>> live = deployments_.Get(deployment);
  // An unknown deployment and a wrong key look the same to the caller.
  if (absl::IsNotFound(live.status()) || absl::IsInvalidArgument(live.status())) {
    return absl::UnauthenticatedError("the API key is not valid for this deployment");
  }
  if (!live.ok()) return live.status();
  absl::StatusOr<std::optional<storage::KeyScope>> scope = api_keys_.Verify((*live)->info().id, key);
  if (!scope.ok()) return scope.status();
  if (!scope->has_value()) return absl::UnauthenticatedError("the API key is not valid for this deployment");
  const bool admin = **scope == storage::KeyScope::kDeploymentAdmin;  // reaches internal functions too
  absl::MutexLock lock(&mu_);
  if (verified_.size() >= kMaxRememberedKeys) verified_.clear();
  verified_[fingerprint] = Verified{now + kRememberKeys, admin};
  return admin;
}

grpc::ServerUnaryReactor* FunctionsService::Call(grpc::CallbackServerContext* context,
                                                 const isobar::v1::FunctionRequest* request,
                                                 isobar::v1::FunctionResponse* response, FunctionKind kind) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (kind != FunctionKind::kMutation || request->idempotency_key().empty()) {
    // A known key and an open deployment: nothing on the call's way to its worker (or to the query
    // cache) waits on PostgreSQL (a keyed mutation first reads its stored result; commits happen on
    // the executor), so it starts right here, one thread hand-off fewer.
    std::optional<absl::StatusOr<bool>> known = KnownAuthorization(*context, request->deployment());
    if (known.has_value() && known->ok() && deployments_.FindOpen(request->deployment()) != nullptr) {
      Serve(context, request, response, kind, reactor, **known);
      return reactor;
    }
  }
  // Checking a key may need the catalog: not on gRPC's thread.
  executor_.Run([this, context, request, response, kind, reactor] {
    absl::StatusOr<bool> admin = Authorize(*context, request->deployment());
    if (!admin.ok()) {
      reactor->Finish(WithDetail(*context, admin.status()));
      return;
    }
    Serve(context, request, response, kind, reactor, *admin);
  });
  return reactor;
}

void FunctionsService::Serve(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                             isobar::v1::FunctionResponse* response, FunctionKind kind,
                             grpc::ServerUnaryReactor* reactor, bool admin) {
  if (absl::Status identity = CheckIdentity(request->identity_json()); !identity.ok()) {
    reactor->Finish(WithDetail(*context, identity));
    return;
  }
  if (!request->idempotency_key().empty() &&
      (kind != FunctionKind::kMutation || request->idempotency_key().size() > kMaxIdempotencyKeyBytes)) {
    reactor->Finish(WithDetail(*context, absl::InvalidArgumentError(absl::StrCat(
                                             "idempotency_key is for mutations, and at most ",
                                             kMaxIdempotencyKeyBytes, " bytes"))));
    return;
  }
  FunctionCallRequest call;
  call.deployment = request->deployment();
  call.path = request->path();
  call.kind = kind;
  call.args_json = request->args_json();
  call.identity_json = request->identity_json().empty() ? "null" : request->identity_json();
  call.allow_internal = admin;
  call.idempotency_key = request->idempotency_key();
  const absl::Time client_deadline = absl::FromChrono(context->deadline());
  call.deadline = std::min(client_deadline, absl::Now() + (kind == FunctionKind::kAction
                                                               ? options_.default_action_deadline
                                                               : options_.default_deadline));
  auto reply = [context, response, reactor](const FunctionOutcome& outcome) {
    for (const isobar::v1::LogLine& line : outcome.logs) *response->add_log_lines() = line;
    response->set_occ_retries(static_cast<uint32_t>(outcome.occ_retries));
    if (!outcome.ok) {
      // The detail travels in a trailer, which gRPC keeps small (8 KiB by default): the first lines up
      // to 4 KiB, then a note. (TailLogs and isobarctl logs show them all.)
      isobar::v1::ErrorDetail detail = outcome.error.detail;
      size_t bytes = 0, shown = 0;
      for (const isobar::v1::LogLine& line : outcome.logs) {
        bytes += line.level().size() + line.message().size();
        if (bytes > kMaxTrailerLogBytes) break;
        *detail.add_log_lines() = line;
        ++shown;
      }
      if (shown < outcome.logs.size()) {
        isobar::v1::LogLine* note = detail.add_log_lines();
        note->set_level("warn");
        note->set_message(absl::StrCat(outcome.logs.size() - shown,
                                       " more log lines are not carried with the error (see isobarctl logs)"));
      }
      reactor->Finish(Detailed(*context, outcome.error.code, detail));
      return;
    }
    response->set_result_json(outcome.result_json);
    reactor->Finish(grpc::Status::OK);
  };
  if (kind == FunctionKind::kQuery) {
    // Through the query cache, at the newest timestamp whose commits it has seen: a valid earlier
    // result answers without a worker.
    absl::StatusOr<std::shared_ptr<LiveDeployment>> live = deployments_.Get(call.deployment);
    std::shared_ptr<const CodeVersion> code = live.ok() ? (*live)->code() : nullptr;
    if (code != nullptr) {
      const storage::Timestamp at = tracker_.Now(call.deployment, (*live)->db());
      cache_.Evaluate(
          std::move(call), code->version(), at,
          [this](FunctionCallRequest request, FunctionCallback done) { AdmitAndRun(std::move(request), std::move(done)); },
          [reply](std::shared_ptr<QueryResult> result) { reply(result->outcome()); });
      return;
    }
  }
  AdmitAndRun(std::move(call), [reply](FunctionOutcome outcome) { reply(outcome); });
}

void FunctionsService::AdmitAndRun(FunctionCallRequest call, FunctionCallback done) {
  const std::string deployment = call.deployment;
  const FunctionKind kind = call.kind;
  const absl::Time deadline = call.deadline;
  if (options_.database_available && !options_.database_available()) {
    FunctionOutcome outcome;
    outcome.error = Describe(absl::UnavailableError(
        "The database is unavailable (PostgreSQL is restarting or unreachable); nothing was run. Retry shortly."));
    std::move(done)(std::move(outcome));
    return;
  }
  auto shared_done = std::make_shared<FunctionCallback>(std::move(done));
  admission_.Admit(
      deployment, kind, deadline,
      [this, call = std::move(call), shared_done](Admission::Ticket ticket) mutable {
        // The ticket holds the slot until the call's outcome is known (OCC retries included).
        // Admitted on an executor thread (at once, or from the queue): start right here.
        runner_.RunOnThisThread(std::move(call), [shared_done, ticket = std::move(ticket)](FunctionOutcome outcome) mutable {
          ticket.Release();
          std::move (*shared_done)(std::move(outcome));
        });
      },
      [shared_done](absl::Status refused) {
        FunctionOutcome outcome;
        outcome.error = Describe(refused);
        std::move(*shared_done)(std::move(outcome));
      });
}

}  // namespace isobar::supervisor
