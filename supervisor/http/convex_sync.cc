#include "supervisor/http/convex_sync.h"

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "storage/catalog.h"
#include "storage/convex_json.h"
#include "supervisor/http/convex_wire.h"

namespace isobar::supervisor {
namespace {

// A journal is a cursor (storage/cursor.h): an index key and a tag. Far more than one needs.
constexpr size_t kMaxJournalBytes = 16 << 10;

using storage::Value;

constexpr char kComponent[] = "sync";
// A JSON Ping after this much outgoing silence (the client reconnects after 60 s of it).
constexpr absl::Duration kPingAfter = absl::Seconds(15);
// Transitions larger than this go out as TransitionChunks of at most this many bytes.
constexpr size_t kChunkBytes = 5'000'000;
// Per socket: mutations waiting and actions running; bytes of messages not handled yet, of the
// arguments of mutations waiting, and of the arguments of live queries.
constexpr size_t kMaxRequestsInFlight = 1000;
constexpr size_t kMaxInboxBytes = 32 << 20;
constexpr size_t kMaxQueuedArgsBytes = 64 << 20;
constexpr size_t kMaxQueryArgsBytes = 64 << 20;
// Close codes: the client reconnects after any of them (only FatalError stops it).
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseInternal = 1011;
constexpr uint16_t kClosePolicy = 1008;
constexpr uint16_t kCloseTryAgain = 1013;

std::string VersionJson(const QuerySetVersion& version) {
  return absl::StrCat("{\"querySet\":", version.query_set, ",\"identity\":", version.identity,
                      ",\"ts\":", TimestampJson(version.ts), "}");
}

// A function's outcome as the sync protocol's responses carry it: "success", "result", "logLines"
// and, for a ConvexError, "errorData". Without the braces.
std::string ResultFields(const FunctionOutcome& outcome) {
  if (outcome.ok) {
    return absl::StrCat("\"success\":true,\"result\":", outcome.result_json, ",\"logLines\":", LogLinesJson(outcome.logs));
  }
  const isobar::v1::ErrorDetail& detail = outcome.error.detail;
  std::string fields = absl::StrCat("\"success\":false,\"result\":", JsonString(ErrorMessage(detail, NewRequestId())),
                                    ",\"logLines\":", LogLinesJson(outcome.logs));
  if (detail.kind() == isobar::v1::ErrorDetail::CONVEX_ERROR && !detail.convex_error_data_json().empty()) {
    absl::StrAppend(&fields, ",\"errorData\":", detail.convex_error_data_json());
  }
  return fields;
}

// A u32 field, or nullopt.
std::optional<uint32_t> U32(const Value& message, const char* name) {
  const Value& field = message.Get(name);
  if (field.type() != Value::Type::kFloat64) return std::nullopt;
  const double d = field.float64();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint32_t>(d))) return std::nullopt;
  return static_cast<uint32_t>(d);
}

// The arguments object of a client message's "args" ([{...}], Convex JSON), as canonical Convex JSON.
absl::StatusOr<std::string> ArgsJson(const Value& message) {
  const Value& args = message.Get("args");
  if (args.type() != Value::Type::kArray || args.array().size() != 1) {
    return absl::InvalidArgumentError("`args` must be an array holding the arguments object");
  }
  absl::StatusOr<Value> converted = storage::FromPlainJson(args.array()[0], /*allow_undefined=*/false);
  if (!converted.ok()) return converted.status();
  if (converted->type() != Value::Type::kObject) {
    return absl::InvalidArgumentError("Expected to receive an object as the function's argument");
  }
  return storage::ToConvexJson(*converted);
}

}  // namespace

// One socket's session. Messages are handled on the executor one at a time, in order; mutations run
// one at a time; everything written goes through Write, in order, under mu_.
class ConvexSync::Session final : public LiveQuerySet::Sink, public std::enable_shared_from_this<Session> {
 public:
  Session(ConvexSync& sync, std::string deployment) : sync_(sync), deployment_(std::move(deployment)) {}

  // From the socket, on the server's thread.
  void Open(std::shared_ptr<WebSocket> socket) {
    {
      absl::MutexLock lock(&mu_);
      socket_ = std::move(socket);
      last_sent_ = absl::Now();
    }
    SchedulePing(absl::Now() + kPingAfter);
  }
  void Message(std::string text) {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (inbox_bytes_ + text.size() > kMaxInboxBytes) {
      return CloseLocked(kClosePolicy, "TooManyMessages: messages arrive faster than they are handled");
    }
    inbox_bytes_ += text.size();
    inbox_.push_back(std::move(text));
    if (handling_) return;
    handling_ = true;
    sync_.executor_.Run([self = shared_from_this()] { self->HandleInbox(); });
  }
  void Sent() {
    std::shared_ptr<LiveQuerySet> delivered;
    {
      absl::MutexLock lock(&mu_);
      if (written_.empty()) return;
      const bool ends_transition = written_.front();
      written_.pop_front();
      if (ends_transition) delivered = set_;
    }
    if (delivered != nullptr) delivered->Delivered();
  }
  void Closed() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    socket_.reset();
    set_.reset();  // its pending work finds this session closed and stops
    inbox_.clear();
    mutations_.clear();
  }

  // LiveQuerySet::Sink.
  void Send(QuerySetTransition transition) override {
    std::string json = absl::StrCat("{\"type\":\"Transition\",\"startVersion\":", VersionJson(transition.start),
                                    ",\"endVersion\":", VersionJson(transition.end), ",\"modifications\":[");
    bool first = true;
    for (const QueryChange& change : transition.changes) {
      if (!first) json.push_back(',');
      first = false;
      if (change.kind == QueryChange::Kind::kRemoved) {
        absl::StrAppend(&json, "{\"type\":\"QueryRemoved\",\"queryId\":", change.query_id, "}");
        continue;
      }
      const FunctionOutcome& outcome = change.result->outcome();
      if (outcome.ok) {
        absl::StrAppend(&json, "{\"type\":\"QueryUpdated\",\"queryId\":", change.query_id, ",\"value\":",
                        outcome.result_json, ",\"logLines\":", LogLinesJson(outcome.logs),
                        ",\"journal\":", outcome.journal.empty() ? "null" : JsonString(outcome.journal), "}");
        continue;
      }
      const isobar::v1::ErrorDetail& detail = outcome.error.detail;
      absl::StrAppend(&json, "{\"type\":\"QueryFailed\",\"queryId\":", change.query_id, ",\"errorMessage\":",
                      JsonString(ErrorMessage(detail, NewRequestId())), ",\"logLines\":", LogLinesJson(outcome.logs),
                      ",\"journal\":null");
      if (detail.kind() == isobar::v1::ErrorDetail::CONVEX_ERROR && !detail.convex_error_data_json().empty()) {
        absl::StrAppend(&json, ",\"errorData\":", detail.convex_error_data_json());
      }
      json.push_back('}');
    }
    absl::StrAppend(&json, "],\"clientClockSkew\":0,\"serverTs\":", absl::ToUnixNanos(absl::Now()), "}");
    std::vector<std::string> messages;
    if (json.size() <= kChunkBytes) {
      messages.push_back(std::move(json));
    } else {
      // TransitionChunks: consecutive slices cut on UTF-8 character boundaries (built outside the lock).
      std::vector<std::string> parts;
      for (size_t at = 0; at < json.size();) {
        size_t end = std::min(json.size(), at + kChunkBytes);
        while (end < json.size() && end > at && (static_cast<unsigned char>(json[end]) & 0xC0) == 0x80) --end;
        parts.push_back(json.substr(at, end - at));
        at = end;
      }
      for (size_t i = 0; i < parts.size(); ++i) {
        messages.push_back(absl::StrCat("{\"type\":\"TransitionChunk\",\"chunk\":", JsonString(parts[i]),
                                        ",\"partNumber\":", i, ",\"totalParts\":", parts.size(),
                                        ",\"transitionId\":\"", json.size(), "\"}"));
      }
    }
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < messages.size(); ++i) {
      WriteLocked(std::move(messages[i]), /*ends_transition=*/i + 1 == messages.size());
    }
  }
  void Fail(absl::Status status) override {
    absl::MutexLock lock(&mu_);
    CloseLocked(kCloseTryAgain, absl::StrCat("Unavailable: ", status.message()));
  }

 private:
  void HandleInbox() {
    for (;;) {
      std::string text;
      {
        absl::MutexLock lock(&mu_);
        if (closed_ || inbox_.empty()) {
          handling_ = false;
          return;
        }
        text = std::move(inbox_.front());
        inbox_.pop_front();
        inbox_bytes_ -= text.size();
      }
      Handle(text);
    }
  }

  void Handle(const std::string& text) {
    absl::StatusOr<Value> message = storage::ParseConvexJson(text, {.plain = true});
    if (!message.ok() || message->type() != Value::Type::kObject ||
        message->Get("type").type() != Value::Type::kString) {
      return Fatal(absl::StrCat("malformed message: ", message.ok() ? "no \"type\"" : message.status().message()));
    }
    const std::string& type = message->Get("type").string();
    if (type == "Connect") return Connect(*message);
    if (type == "Event") return;  // telemetry
    {
      absl::MutexLock lock(&mu_);
      if (set_ == nullptr) {
        if (!closed_) FatalLocked("the first message must be Connect");
        return;
      }
    }
    if (type == "ModifyQuerySet") return ModifyQuerySet(*message);
    if (type == "Authenticate") return Authenticate(*message);
    if (type == "Mutation") return Request(*message, FunctionKind::kMutation);
    if (type == "Action") return Request(*message, FunctionKind::kAction);
    Fatal(absl::StrCat("unknown message type \"", type, "\""));
  }

  void Connect(const Value& message) {
    const Value& session_id = message.Get("sessionId");
    if (session_id.type() != Value::Type::kString || session_id.string().empty() || session_id.string().size() > 64) {
      return Fatal("Connect needs a sessionId");
    }
    {
      absl::MutexLock lock(&mu_);
      if (set_ != nullptr) return FatalLocked("Connect was sent twice");
    }
    // On the executor: opening the deployment may read the catalog.
    absl::StatusOr<std::shared_ptr<LiveDeployment>> live = sync_.gateway_.deployments().Get(deployment_);
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (absl::IsNotFound(live.status()) || absl::IsInvalidArgument(live.status())) {
      return FatalLocked(absl::StrCat("No deployment \"", deployment_, "\" is served here"));
    }
    if (!live.ok()) return CloseLocked(kCloseTryAgain, absl::StrCat("Unavailable: ", live.status().message()));
    live_ = *std::move(live);
    session_id_ = session_id.string();
    set_ = LiveQuerySet::Open(sync_.query_sets_, live_, /*internal=*/false, weak_from_this());
  }

  void ModifyQuerySet(const Value& message) {
    std::optional<uint32_t> base = U32(message, "baseVersion");
    std::optional<uint32_t> next = U32(message, "newVersion");
    const Value& modifications = message.Get("modifications");
    if (!base.has_value() || !next.has_value() || modifications.type() != Value::Type::kArray) {
      return Fatal("ModifyQuerySet needs baseVersion, newVersion and modifications");
    }
    LiveQuerySet::Modification modification;
    modification.new_version = *next;
    for (const Value& change : modifications.array()) {
      const Value& type = change.Get("type");
      std::optional<uint32_t> id = U32(change, "queryId");
      if (type.type() != Value::Type::kString || !id.has_value()) return Fatal("a query set change needs a type and a queryId");
      LiveQuerySet::Change& out = modification.changes.emplace_back();
      if (type.string() == "Remove") {
        out.remove = *id;
        continue;
      }
      const Value& path = change.Get("udfPath");
      if (type.string() != "Add" || path.type() != Value::Type::kString) return Fatal("an Add needs a udfPath");
      absl::StatusOr<std::string> args = ArgsJson(change);
      if (!args.ok()) return Fatal(absl::StrCat("query ", *id, ": ", args.status().message()));
      // A journal from an earlier connection's run (a cursor, checked when it is used), or null.
      const Value& journal = change.Get("journal");
      if (journal.type() == Value::Type::kString && journal.string().size() > kMaxJournalBytes) {
        return Fatal(absl::StrCat("query ", *id, ": the journal is too long"));
      }
      out.add = LiveQuerySet::Add{*id, path.string(), *std::move(args),
                                  journal.type() == Value::Type::kString ? journal.string() : std::string()};
    }
    std::shared_ptr<LiveQuerySet> set;
    {
      absl::MutexLock lock(&mu_);
      if (*base != query_set_version_ || *next <= *base) {
        return FatalLocked(absl::StrCat("BaseVersionMismatch: the query set is at version ", query_set_version_,
                                        ", not ", *base));
      }
      query_set_version_ = *next;
      for (const LiveQuerySet::Change& change : modification.changes) {
        const uint32_t id = change.add.has_value() ? change.add->query_id : change.remove;
        if (auto it = query_args_bytes_.find(id); it != query_args_bytes_.end()) {
          query_args_total_ -= it->second;
          query_args_bytes_.erase(it);
        }
        if (change.add.has_value()) {
          query_args_bytes_[id] = change.add->args_json.size();
          query_args_total_ += change.add->args_json.size();
        }
      }
      if (query_args_total_ > kMaxQueryArgsBytes) {
        return FatalLocked("the live queries' arguments exceed 64 MiB");
      }
      set = set_;
    }
    if (absl::Status modified = set->Modify(std::move(modification)); !modified.ok()) {
      Fatal(std::string(modified.message()));
    }
  }

  void Authenticate(const Value& message) {
    std::optional<uint32_t> base = U32(message, "baseVersion");
    const Value& token_type = message.Get("tokenType");
    if (!base.has_value() || token_type.type() != Value::Type::kString) {
      return Fatal("Authenticate needs a tokenType and a baseVersion");
    }
    LiveQuerySet::Modification modification;
    absl::Time expires = absl::InfiniteFuture();  // a user token's
    if (token_type.string() == "None") {
      modification.identity_json = "null";
      modification.internal = false;
    } else if (token_type.string() == "Admin" && message.Get("value").type() == Value::Type::kString) {
      absl::StatusOr<Access> access = sync_.gateway_.Authorize(deployment_, message.Get("value").string());
      if (!access.ok() || *access != Access::kInternal) {
        return AuthError("The provided admin key was invalid for this instance");
      }
      modification.internal = true;
      modification.identity_json = "null";
      const Value& acting_as = message.Get("impersonating").is_undefined() ? message.Get("acting_as")
                                                                            : message.Get("impersonating");
      if (!acting_as.is_undefined() && acting_as.type() != Value::Type::kNull) {
        absl::StatusOr<std::string> identity = ActingAsIdentity(acting_as);
        if (!identity.ok()) return AuthError(std::string(identity.status().message()));
        modification.identity_json = *std::move(identity);
      }
    } else if (token_type.string() == "User" && message.Get("value").type() == Value::Type::kString) {
      // An end user's token, checked against the deployment's auth.config providers.
      absl::StatusOr<std::string> identity =
          sync_.gateway_.VerifyUserToken(deployment_, message.Get("value").string(), &expires);
      if (absl::IsUnavailable(identity.status())) {
        // Not a verdict on the token: the client comes back and tries again.
        absl::MutexLock lock(&mu_);
        return CloseLocked(kCloseTryAgain, absl::StrCat("Unavailable: ", identity.status().message()));
      }
      if (!identity.ok()) return AuthError(std::string(identity.status().message()));
      modification.internal = false;
      modification.identity_json = *std::move(identity);
    } else {
      return Fatal("Authenticate's tokenType must be None, User or Admin");
    }
    std::shared_ptr<LiveQuerySet> set;
    {
      absl::MutexLock lock(&mu_);
      if (*base != identity_version_) {
        return CloseLocked(kCloseInternal, "InternalServerError: the identity's base version does not match");
      }
      ++identity_version_;
      identity_json_ = *modification.identity_json;
      internal_ = *modification.internal;
      set = set_;
      identity_expires_ = expires;  // InfiniteFuture for no identity, an admin's, or acting as a user
      ScheduleExpiryCheck();
    }
    if (absl::Status modified = set->Modify(std::move(modification)); !modified.ok()) {
      Fatal(std::string(modified.message()));
    }
  }

  void Request(const Value& message, FunctionKind kind) {
    std::optional<uint32_t> request_id = U32(message, "requestId");
    const Value& path = message.Get("udfPath");
    if (!request_id.has_value() || path.type() != Value::Type::kString) {
      return Fatal("a Mutation or an Action needs a requestId and a udfPath");
    }
    FunctionCallRequest call;
    call.deployment = deployment_;
    call.path = path.string();
    call.kind = kind;
    absl::StatusOr<std::string> args = ArgsJson(message);
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (!args.ok()) {
      FunctionOutcome refused = FunctionOutcome::Failure(absl::InvalidArgumentError(args.status().message()));
      refused.error.detail.set_kind(isobar::v1::ErrorDetail::INVALID_REQUEST);
      return RespondLocked(kind, *request_id, refused);
    }
    call.args_json = *std::move(args);
    call.identity_json = identity_json_;
    call.allow_internal = internal_;
    if (mutations_.size() + actions_running_ >= kMaxRequestsInFlight) {
      return CloseLocked(kCloseTryAgain, "TooManyConcurrentRequests: too many mutations and actions in flight");
    }
    if (kind == FunctionKind::kAction) {
      // Actions run side by side, on the executor (never under mu_: an answer may come at once).
      call.deadline = sync_.gateway_.DeadlineFor(kind, absl::InfiniteFuture());
      ++actions_running_;
      sync_.executor_.Run([self = shared_from_this(), id = *request_id, call = std::move(call)]() mutable {
        self->sync_.gateway_.Call(std::move(call), [self, id](FunctionOutcome outcome) {
          absl::MutexLock lock(&self->mu_);
          --self->actions_running_;
          self->RespondLocked(FunctionKind::kAction, id, outcome);
        });
      });
      return;
    }
    // Applied once however often it is resent: the client resends every unconfirmed mutation after
    // a reconnect, with the same session and request ids.
    call.idempotency_key = absl::StrCat("convex-sync:", session_id_, ":", *request_id);
    if (queued_args_bytes_ + call.args_json.size() > kMaxQueuedArgsBytes) {
      return CloseLocked(kCloseTryAgain, "TooManyConcurrentRequests: too many mutation arguments waiting");
    }
    queued_args_bytes_ += call.args_json.size();
    mutations_.push_back(PendingMutation{*request_id, std::move(call)});
    if (!mutation_running_) StartNextMutationLocked();
  }

  void StartNextMutationLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_ || mutations_.empty()) {
      mutation_running_ = false;
      return;
    }
    mutation_running_ = true;
    PendingMutation next = std::move(mutations_.front());
    mutations_.pop_front();
    queued_args_bytes_ -= next.call.args_json.size();
    // Its time starts now, not while it waited behind the others.
    next.call.deadline = sync_.gateway_.DeadlineFor(FunctionKind::kMutation, absl::InfiniteFuture());
    sync_.executor_.Run([self = shared_from_this(), next = std::move(next)]() mutable {
      self->sync_.gateway_.Call(std::move(next.call), [self, id = next.request_id](FunctionOutcome outcome) {
        absl::MutexLock lock(&self->mu_);
        self->RespondLocked(FunctionKind::kMutation, id, outcome);
        self->StartNextMutationLocked();
      });
    });
  }

  // A mutation's or an action's answer. A failure of the system rather than the function closes the
  // socket instead: the client reconnects and resends (mutations), or reports the loss (actions).
  void RespondLocked(FunctionKind kind, uint32_t request_id, const FunctionOutcome& outcome)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_) return;
    if (!outcome.ok && !IsFunctionFailure(outcome.error.detail)) {
      return CloseLocked(kCloseTryAgain, absl::StrCat("Unavailable: ", outcome.error.detail.message()));
    }
    if (kind == FunctionKind::kAction) {
      return WriteLocked(absl::StrCat("{\"type\":\"ActionResponse\",\"requestId\":", request_id, ",",
                                      ResultFields(outcome), "}"),
                         false);
    }
    if (!outcome.ok) {
      return WriteLocked(absl::StrCat("{\"type\":\"MutationResponse\",\"requestId\":", request_id, ",",
                                      ResultFields(outcome), ",\"ts\":null}"),
                         false);
    }
    // A result an idempotency key answered committed earlier: the newest timestamp covers it.
    const storage::Timestamp ts = outcome.commit_ts.value() != 0 ? outcome.commit_ts
                                                                  : sync_.gateway_.tracker().Now(deployment_, live_->db());
    WriteLocked(absl::StrCat("{\"type\":\"MutationResponse\",\"requestId\":", request_id, ",", ResultFields(outcome),
                             ",\"ts\":", TimestampJson(ts), "}"),
                false);
    // Then a transition reaching it (empty if nothing watched changed), which resolves the client's call.
    sync_.executor_.Run([set = set_, ts] {
      if (set != nullptr) set->AdvanceTo(ts);
    });
  }

  void AuthError(std::string error) {
    absl::MutexLock lock(&mu_);
    AuthErrorLocked(error, /*update_attempted=*/true);
  }
  void AuthErrorLocked(const std::string& error, bool update_attempted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_) return;
    WriteLocked(absl::StrCat("{\"type\":\"AuthError\",\"error\":", JsonString(error), ",\"baseVersion\":",
                             identity_version_, ",\"authUpdateAttempted\":", update_attempted ? "true" : "false", "}"),
                false);
    CloseLocked(kCloseNormal, "AuthError");
  }

  void Fatal(std::string error) {
    absl::MutexLock lock(&mu_);
    FatalLocked(std::move(error));
  }
  // The client stops for good after a FatalError: for what retrying cannot mend.
  void FatalLocked(std::string error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_) return;
    ISOBAR_LOG(kInfo, kComponent) << "deployment " << deployment_ << ": fatal error for a client: " << error;
    WriteLocked(absl::StrCat("{\"type\":\"FatalError\",\"error\":", JsonString(error), "}"), false);
    CloseLocked(kCloseInternal, "FatalError");
  }

  void CloseLocked(uint16_t code, std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_ || socket_ == nullptr) return;
    socket_->Close(code, std::move(reason));  // which cuts it to what a close frame holds
    closed_ = true;  // nothing more is handled or written; Closed() follows
  }

  void WriteLocked(std::string json, bool ends_transition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (closed_ || socket_ == nullptr) return;
    if (!socket_->Send(std::move(json))) {
      closed_ = true;  // the socket is gone or cut off (a client that does not read); Closed() follows
      return;
    }
    written_.push_back(ends_transition);
    last_sent_ = absl::Now();
  }

  // As Convex: when a user's token expires, the session says so and closes (the client fetches a new
  // token and comes back). A check is scheduled only when none is due by then, each at most an hour
  // away, so a session holds few timers however often its client authenticates.
  void ScheduleExpiryCheck() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (identity_expires_ == absl::InfiniteFuture()) return;
    const absl::Time when = std::min(identity_expires_, absl::Now() + absl::Hours(1));
    if (next_expiry_check_ <= when) return;  // one is due before then, and looks again
    next_expiry_check_ = when;
    std::weak_ptr<Session> weak = weak_from_this();
    sync_.executor_.RunAt(when, [weak, when] {
      std::shared_ptr<Session> self = weak.lock();
      if (self == nullptr) return;
      absl::MutexLock lock(&self->mu_);
      if (self->next_expiry_check_ == when) self->next_expiry_check_ = absl::InfiniteFuture();
      if (self->closed_ || self->identity_expires_ == absl::InfiniteFuture()) return;
      if (absl::Now() >= self->identity_expires_) {
        return self->AuthErrorLocked("Convex token identity expired", /*update_attempted=*/false);
      }
      self->ScheduleExpiryCheck();
    });
  }

  void SchedulePing(absl::Time when) {
    std::weak_ptr<Session> weak = weak_from_this();
    sync_.executor_.RunAt(when, [weak] {
      std::shared_ptr<Session> self = weak.lock();
      if (self == nullptr) return;
      absl::Time next;
      {
        absl::MutexLock lock(&self->mu_);
        if (self->closed_) return;
        if (absl::Now() - self->last_sent_ >= kPingAfter) self->WriteLocked("{\"type\":\"Ping\"}", false);
        next = std::max(absl::Now(), self->last_sent_) + kPingAfter;
      }
      self->SchedulePing(next);
    });
  }

  struct PendingMutation {
    uint32_t request_id;
    FunctionCallRequest call;
  };

  ConvexSync& sync_;
  const std::string deployment_;
  absl::Mutex mu_;
  std::shared_ptr<WebSocket> socket_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<bool> written_ ABSL_GUARDED_BY(mu_);  // per message written, in order: whether it ends a transition
  absl::Time last_sent_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> inbox_ ABSL_GUARDED_BY(mu_);
  size_t inbox_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool handling_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<LiveDeployment> live_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<LiveQuerySet> set_ ABSL_GUARDED_BY(mu_);
  std::string session_id_ ABSL_GUARDED_BY(mu_);
  uint32_t query_set_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t identity_version_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time identity_expires_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // a user token's
  absl::Time next_expiry_check_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();  // the earliest one due
  std::string identity_json_ ABSL_GUARDED_BY(mu_) = "null";
  bool internal_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<PendingMutation> mutations_ ABSL_GUARDED_BY(mu_);
  size_t queued_args_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint32_t, size_t> query_args_bytes_ ABSL_GUARDED_BY(mu_);  // live queries' arguments, by id
  size_t query_args_total_ ABSL_GUARDED_BY(mu_) = 0;
  bool mutation_running_ ABSL_GUARDED_BY(mu_) = false;
  size_t actions_running_ ABSL_GUARDED_BY(mu_) = 0;
};

namespace {

// Owned by the socket; the session is shared with its pending work.
class SocketHandler final : public WebSocketHandler {
 public:
  explicit SocketHandler(std::shared_ptr<ConvexSync::Session> session) : session_(std::move(session)) {}
  void OnOpen(std::shared_ptr<WebSocket> socket) override { session_->Open(std::move(socket)); }
  void OnMessage(std::string text) override { session_->Message(std::move(text)); }
  void OnSent() override { session_->Sent(); }
  void OnClose() override { session_->Closed(); }

 private:
  std::shared_ptr<ConvexSync::Session> session_;
};

}  // namespace

ConvexSync::ConvexSync(Gateway& gateway, Executor& executor)
    : gateway_(gateway), executor_(executor), query_sets_([&gateway, &executor] {
        QuerySetEnvironment environment = gateway.QuerySetEnvironmentOn(executor);
        environment.journals = true;  // Convex clients keep pages stable with them
        return environment;
      }()) {}

std::unique_ptr<WebSocketHandler> ConvexSync::Upgrade(const HttpRequest& request, HttpResponse* refusal) {
  // /d/<deployment>/api/<client version>/sync, or /d/<deployment>/api/sync
  absl::string_view path = request.target;
  path = path.substr(0, path.find('?'));
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/');
  const bool versioned = parts.size() == 6;
  if ((parts.size() != 5 && !versioned) || !parts[0].empty() || parts[1] != "d" || !storage::ValidateDeploymentName(parts[2]).ok() ||
      parts[3] != "api" || parts.back() != "sync") {
    *refusal = HttpResponse::Text(404, "Not found");
    return nullptr;
  }
  if (versioned) {
    for (char c : parts[4]) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != '+') {
        *refusal = HttpResponse::Text(400, "InvalidClientVersion");
        return nullptr;
      }
    }
  }
  return std::make_unique<SocketHandler>(std::make_shared<Session>(*this, std::string(parts[2])));
}

}  // namespace isobar::supervisor
