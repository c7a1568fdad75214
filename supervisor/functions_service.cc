#include "supervisor/functions_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "storage/convex_json.h"
#include "storage/hashing.h"
#include "supervisor/admin_key.h"
#include "supervisor/error_detail.h"

namespace isobar::supervisor {
namespace {

constexpr absl::Duration kRememberKeys = absl::Minutes(1);
constexpr size_t kMaxRememberedKeys = 4096;
constexpr size_t kMaxIdentityBytes = 64 << 10;
constexpr size_t kMaxIdempotencyKeyBytes = 256;

// An identity must be an object naming its token, subject and issuer, as Convex's UserIdentity does.
absl::Status CheckIdentity(const std::string& identity_json) {
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

}  // namespace

absl::StatusOr<bool> FunctionsService::Authorize(const grpc::ServerContextBase& context,
                                                 const std::string& deployment) {
  const std::string key = BearerToken(context);
  if (key.empty()) {
    return absl::UnauthenticatedError("Functions calls need the deployment's API key as 'authorization: Bearer <key>'");
  }
  if (SameKey(key, options_.admin_key)) return true;
  const std::string fingerprint = storage::Sha256(absl::StrCat(deployment.size(), ":", deployment, key));
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = verified_.find(fingerprint);
    if (it != verified_.end() && it->second.until > now) return it->second.admin;
  }
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
  // Checking a key may need the catalog: not on gRPC's thread.
  executor_.Run([this, context, request, response, kind, reactor] {
    absl::StatusOr<bool> admin = Authorize(*context, request->deployment());
    if (!admin.ok()) {
      reactor->Finish(WithDetail(*context, admin.status()));
      return;
    }
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
    call.allow_internal = *admin;
    call.idempotency_key = request->idempotency_key();
    const absl::Time client_deadline = absl::FromChrono(context->deadline());
    call.deadline = std::min(client_deadline, absl::Now() + (kind == FunctionKind::kAction
                                                                 ? options_.default_action_deadline
                                                                 : options_.default_deadline));
    const std::string deployment = call.deployment;
    const absl::Time deadline = call.deadline;
    admission_.Admit(
        deployment, kind, deadline,
        [this, context, response, reactor, call = std::move(call)](Admission::Ticket ticket) mutable {
          // The ticket holds the slot until the call's outcome is known (OCC retries included).
          // Admitted on an executor thread (at once, or from the queue): start right here.
          runner_.RunOnThisThread(std::move(call), [context, response, reactor, ticket = std::move(ticket)](FunctionOutcome outcome) mutable {
            ticket.Release();
            for (isobar::v1::LogLine& line : outcome.logs) *response->add_log_lines() = std::move(line);
            response->set_occ_retries(static_cast<uint32_t>(outcome.occ_retries));
            if (!outcome.ok) {
              reactor->Finish(Detailed(*context, outcome.error.code, outcome.error.detail));
              return;
            }
            response->set_result_json(std::move(outcome.result_json));
            reactor->Finish(grpc::Status::OK);
          });
        },
        [context, reactor](absl::Status refused) { reactor->Finish(WithDetail(*context, refused)); });
  });
  return reactor;
}

}  // namespace isobar::supervisor
