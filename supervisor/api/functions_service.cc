#include "supervisor/api/functions_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/commit_outcome.h"
#include "supervisor/cluster/subscribe_relay.h"
#include "supervisor/runner/error_detail.h"

namespace isobar::supervisor {
namespace {

constexpr size_t kMaxIdempotencyKeyBytes = 256;
constexpr size_t kMaxTrailerLogBytes = 4096;

}  // namespace

void FunctionsService::SetCluster(Placement* placement, Peers* peers) {
  placement_ = placement;
  peers_ = peers;
  subscriptions_.relay = [this](grpc::CallbackServerContext* context, const isobar::v1::SubscribeRequest& first,
                                std::weak_ptr<RelaySink> sink) -> absl::StatusOr<std::shared_ptr<Relay>> {
    absl::StatusOr<Route> route = placement_->Find(first.deployment(), IsForwarded(*context));
    if (!route.ok()) return route.status();
    if (route->here) return nullptr;
    peers_->CountForward();
    return StartSubscribeRelay(peers_->Channel(route->member.grpc_address), *context, placement_->self().holder, first,
                               std::move(sink), [this, member = route->member] {
                                 peers_->CountUnreached();
                                 placement_->Unreachable(member);
                               });
  };
}

grpc::ServerUnaryReactor* FunctionsService::Call(grpc::CallbackServerContext* context,
                                                 const isobar::v1::FunctionRequest* request,
                                                 isobar::v1::FunctionResponse* response, FunctionKind kind) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (placement_ != nullptr && !IsForwarded(*context)) {
    // Served by another member we heard of lately: straight there, no thread hand-off.
    if (std::optional<Route> known = placement_->FindKnown(request->deployment()); known.has_value()) {
      Forward(context, request, response, kind, reactor, known->member);
      return reactor;
    }
  }
  const bool has_user_token = !UserToken(*context).empty();
  if ((kind != FunctionKind::kMutation || request->idempotency_key().empty()) && !has_user_token) {
    // A known key and an open deployment: nothing on the call's way to its worker (or to the query
    // cache) waits on PostgreSQL (a keyed mutation first reads its stored result; commits happen on
    // the executor), so it starts right here, one thread hand-off fewer.
    std::optional<absl::StatusOr<Access>> known = gateway_.KnownAccess(request->deployment(), CallerKey(*context));
    if (known.has_value() && known->ok() && gateway_.deployments().FindOpen(request->deployment()) != nullptr) {
      Serve(context, request, response, kind, reactor, **known, std::nullopt);
      return reactor;
    }
  }
  // Checking a key (or a user's token) may need the catalog or the issuer: not on gRPC's thread.
  executor_.Run([this, context, request, response, kind, reactor] {
    if (placement_ != nullptr) {
      absl::StatusOr<Route> route = placement_->Find(request->deployment(), IsForwarded(*context));
      if (!route.ok()) {
        reactor->Finish(WithDetail(*context, route.status()));
        return;
      }
      if (!route->here) {
        Forward(context, request, response, kind, reactor, route->member);
        return;
      }
    }
    absl::StatusOr<Access> access = gateway_.Authorize(request->deployment(), CallerKey(*context));
    if (!access.ok()) {
      reactor->Finish(WithDetail(*context, access.status()));
      return;
    }
    std::optional<std::string> user_identity;
    if (const std::string token = UserToken(*context); !token.empty()) {
      absl::StatusOr<std::string> identity = gateway_.VerifyUserToken(request->deployment(), token);
      if (!identity.ok()) {
        reactor->Finish(WithDetail(*context, identity.status()));
        return;
      }
      user_identity = *std::move(identity);
    }
    Serve(context, request, response, kind, reactor, *access, std::move(user_identity));
  });
  return reactor;
}

void FunctionsService::Forward(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                               isobar::v1::FunctionResponse* response, FunctionKind kind,
                               grpc::ServerUnaryReactor* reactor, const storage::SupervisorRecord& member) {
  struct Forwarded {
    std::unique_ptr<isobar::v1::Functions::Stub> stub;
    grpc::ClientContext out;
  };
  peers_->CountForward();
  auto forwarded = std::make_shared<Forwarded>();
  forwarded->stub = isobar::v1::Functions::NewStub(peers_->Channel(member.grpc_address));
  PrepareForward(*context, placement_->self().holder, forwarded->out);
  auto done = [this, context, reactor, forwarded, member, kind, deployment = request->deployment()](grpc::Status status) {
    if (NotReached(status, forwarded->out)) {
      peers_->CountUnreached();
      placement_->Unreachable(member);
      const std::string message = absl::StrCat("deployment ", deployment, " is served by supervisor ", member.holder,
                                               ", which did not answer (", status.error_message(), ")");
      // It may have gone away after it received the call: a mutation may have committed there.
      reactor->Finish(WithDetail(
          *context, kind == FunctionKind::kMutation
                        ? storage::CommitOutcomeUnknownError(absl::StrCat(
                              message, ". Whether the mutation committed is not known: retrying it with the same "
                                       "idempotency key is safe (it applies at most once)"))
                        : absl::UnavailableError(absl::StrCat(message, "; try again"))));
      return;
    }
    ReturnTrailers(forwarded->out, *context);
    reactor->Finish(status);
  };
  auto* async = forwarded->stub->async();
  switch (kind) {
    case FunctionKind::kQuery: async->Query(&forwarded->out, request, response, std::move(done)); break;
    case FunctionKind::kMutation: async->Mutation(&forwarded->out, request, response, std::move(done)); break;
    case FunctionKind::kAction: async->Action(&forwarded->out, request, response, std::move(done)); break;
  }
}

void FunctionsService::Serve(grpc::CallbackServerContext* context, const isobar::v1::FunctionRequest* request,
                             isobar::v1::FunctionResponse* response, FunctionKind kind,
                             grpc::ServerUnaryReactor* reactor, Access access,
                             std::optional<std::string> user_identity) {
  if (absl::Status identity = Gateway::CheckIdentity(request->identity_json()); !identity.ok()) {
    reactor->Finish(WithDetail(*context, identity));
    return;
  }
  // identity_json is "acting as" a user (Convex's admin acting-user): an admin key's alone, and not
  // beside a user's own token.
  if (!request->identity_json().empty() && request->identity_json() != "null" &&
      (access != Access::kInternal || user_identity.has_value())) {
    reactor->Finish(WithDetail(*context, absl::PermissionDeniedError(
        user_identity.has_value() ? "identity_json and a user token cannot both be given"
                                  : "identity_json (acting as a user) needs an admin key; an end user's identity comes "
                                    "from their token ('authorization: Bearer <JWT>' beside 'isobar-api-key: <key>')")));
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
  call.identity_json = user_identity.has_value()           ? *std::move(user_identity)
                       : request->identity_json().empty() ? "null"
                                                          : request->identity_json();
  call.allow_internal = access == Access::kInternal;
  call.idempotency_key = request->idempotency_key();
  call.deadline = gateway_.DeadlineFor(kind, absl::FromChrono(context->deadline()));
  gateway_.Call(std::move(call), [context, response, reactor](FunctionOutcome outcome) {
    // The id in the supervisor's log line for the call and in its log lines (isobarctl logs).
    if (!outcome.request_id.empty()) context->AddTrailingMetadata("isobar-request-id", outcome.request_id);
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
  });
}

}  // namespace isobar::supervisor
