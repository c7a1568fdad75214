#include "supervisor/runner/fetch_calls.h"

#include <map>
#include <set>
#include <optional>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/base64.h"
#include "base/utf8.h"
#include "supervisor/egress/egress_config.h"
#include "supervisor/runner/invocation_session.h"
#include "supervisor/runner/syscall_args.h"

namespace isobar::supervisor {

// One invocation's fetches, by the id the runtime knows them by.
struct SessionFetches {
  absl::Mutex mu;
  std::optional<EgressConfig> config ABSL_GUARDED_BY(mu);  // the deployment's, read once per invocation
  std::map<uint32_t, std::shared_ptr<Fetch>> open ABSL_GUARDED_BY(mu);
  // Ids the runtime cancelled before their fetchStart was served (an abort races the start).
  std::set<uint32_t> cancelled_early ABSL_GUARDED_BY(mu);
  bool finished ABSL_GUARDED_BY(mu) = false;
};

namespace {

// What one isobar/fetchRead hands over at most.
constexpr size_t kReadPartBytes = 1 << 20;
// Responses an invocation may hold open at once (started, not yet read to the end or cancelled).
constexpr size_t kMaxOpenFetches = 1000;

using Done = absl::AnyInvocable<void(absl::StatusOr<std::string>) &&>;

// A failure user code sees: {error: {type, message}}. A malformed request (INVALID_ARGUMENT) and a
// redirect the request's mode refuses (FAILED_PRECONDITION) are TypeErrors, as in Convex; the rest
// (refusals, the network, limits, time) are Errors.
std::string ErrorResult(const absl::Status& status) {
  const bool type_error =
      status.code() == absl::StatusCode::kInvalidArgument || status.code() == absl::StatusCode::kFailedPrecondition;
  return absl::StrCat(R"({"error":{"type":")", type_error ? "TypeError" : "Error", R"(","message":)",
                      Quote(status.message()), "}}");
}

std::string HeadResult(const FetchHead& head) {
  std::string out = absl::StrCat(R"({"status":)", head.status, R"(,"url":)", Quote(Latin1ToUtf8(head.url)),
                                 R"(,"redirected":)", head.redirected ? "true" : "false", R"(,"headerPairs":[)");
  for (size_t i = 0; i < head.headers.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? "" : ",", "[", Quote(Latin1ToUtf8(head.headers[i].first)), ",",
                    Quote(Latin1ToUtf8(head.headers[i].second)), "]");
  }
  absl::StrAppend(&out, "]}");
  return out;
}

std::shared_ptr<SessionFetches> FetchesOf(InvocationSession& session) {
  absl::MutexLock lock(&session.mu);
  if (session.fetches == nullptr) session.fetches = std::make_shared<SessionFetches>();
  return session.fetches;
}

absl::StatusOr<EgressConfig> ConfigOf(InvocationSession& session, SessionFetches& fetches) {
  {
    absl::MutexLock lock(&fetches.mu);
    if (fetches.config.has_value()) return *fetches.config;
  }
  absl::StatusOr<EgressConfig> config =
      LoadEgressConfig(session.deployment->db().catalog(), session.deployment->info().id);
  if (!config.ok()) return config.status();
  absl::MutexLock lock(&fetches.mu);
  fetches.config = *config;
  return *config;
}

absl::StatusOr<RedirectMode> RedirectOf(const storage::Value& args) {
  const std::optional<std::string> mode = OptionalString(args, "redirect");
  if (!mode.has_value() || *mode == "follow") return RedirectMode::kFollow;
  if (*mode == "manual") return RedirectMode::kManual;
  if (*mode == "error") return RedirectMode::kError;
  return absl::InvalidArgumentError(absl::StrCat("Failed to execute 'fetch': '", mode->substr(0, 50),
                                                 "' is not a valid redirect mode"));
}

absl::StatusOr<FetchRequest> RequestOf(const storage::Value& args) {
  FetchRequest request;
  absl::StatusOr<std::string> url = StringArg(args, "url");
  if (!url.ok()) return url.status();
  request.url = *std::move(url);
  request.method = OptionalString(args, "method").value_or("GET");
  const storage::Value pairs = args.Get("headerPairs");
  if (pairs.type() == storage::Value::Type::kArray) {
    for (const storage::Value& pair : pairs.array()) {
      if (pair.type() != storage::Value::Type::kArray || pair.array().size() != 2 ||
          pair.array()[0].type() != storage::Value::Type::kString || pair.array()[1].type() != storage::Value::Type::kString) {
        return absl::InvalidArgumentError("isobar/fetchStart: headerPairs must be [name, value] strings");
      }
      request.headers.emplace_back(pair.array()[0].string(), pair.array()[1].string());
    }
  }
  if (std::optional<std::string> body = OptionalString(args, "body"); body.has_value()) {
    std::optional<std::string> bytes = Base64Decode(*body);
    if (!bytes.has_value()) return absl::InvalidArgumentError("isobar/fetchStart: body is not base64");
    request.body = *std::move(bytes);
  }
  const storage::Value streamed = args.Get("streamed");
  request.streamed_body = streamed.type() == storage::Value::Type::kBoolean && streamed.boolean();
  absl::StatusOr<RedirectMode> redirect = RedirectOf(args);
  if (!redirect.ok()) return redirect.status();
  request.redirect = *redirect;
  return request;
}

// The id the runtime gave a fetch (its own counter, so that an abort can name a fetch still starting).
absl::StatusOr<uint32_t> IdOf(const storage::Value& args) {
  const storage::Value id = args.Get("id");
  if (id.type() != storage::Value::Type::kFloat64 || id.float64() < 1 || id.float64() > 4e9 ||
      id.float64() != static_cast<double>(static_cast<uint32_t>(id.float64()))) {
    return absl::InvalidArgumentError("fetch: id must be a whole number");
  }
  return static_cast<uint32_t>(id.float64());
}

// The open fetch `args.id` names; INVALID_ARGUMENT (a host call error: the runtime's mistake) if none.
absl::StatusOr<std::pair<uint32_t, std::shared_ptr<Fetch>>> OpenFetch(SessionFetches& fetches,
                                                                      const storage::Value& args) {
  absl::StatusOr<uint32_t> id = IdOf(args);
  if (!id.ok()) return id.status();
  absl::MutexLock lock(&fetches.mu);
  auto it = fetches.open.find(*id);
  if (it == fetches.open.end() || it->second == nullptr) {
    return absl::InvalidArgumentError("fetch: no such request (it has finished)");
  }
  return *it;
}

void Close(SessionFetches& fetches, uint32_t id) {
  absl::MutexLock lock(&fetches.mu);
  fetches.open.erase(id);
}

}  // namespace

bool IsFetchSyscall(absl::string_view op) {
  return op == "isobar/fetchStart" || op == "isobar/fetchWrite" || op == "isobar/fetchHead" ||
         op == "isobar/fetchRead" || op == "isobar/fetchCancel";
}

void ServeFetchSyscall(HttpFetcher& fetcher, const std::shared_ptr<InvocationSession>& session, absl::string_view op,
                       absl::string_view args_json, Done done) {
  absl::StatusOr<storage::Value> args = ParseSyscallArgs(args_json);
  if (!args.ok()) return std::move(done)(args.status());
  std::shared_ptr<SessionFetches> fetches = FetchesOf(*session);

  if (op == "isobar/fetchStart") {
    absl::StatusOr<uint32_t> id = IdOf(*args);
    if (!id.ok()) return std::move(done)(id.status());
    absl::StatusOr<FetchRequest> request = RequestOf(*args);
    if (!request.ok()) return std::move(done)(ErrorResult(request.status()));
    const bool streamed = request->streamed_body;
    absl::StatusOr<EgressConfig> config = ConfigOf(*session, *fetches);
    if (!config.ok()) return std::move(done)(config.status());
    if (!config->enabled) {
      return std::move(done)(ErrorResult(absl::PermissionDeniedError("fetch is turned off for this deployment by its egress policy")));
    }
    // Refused before anything starts; the id is held (by a null entry) while the request starts.
    absl::Status refused;
    {
      absl::MutexLock lock(&fetches->mu);
      if (fetches->finished) {
        refused = absl::CancelledError("the action has finished");
      } else if (fetches->cancelled_early.erase(*id) > 0) {
        refused = absl::CancelledError("The signal has been aborted");
      } else if (fetches->open.count(*id) > 0) {
        refused = absl::InvalidArgumentError("fetch: that id is in use");
      } else if (fetches->open.size() >= kMaxOpenFetches) {
        refused = absl::ResourceExhaustedError(absl::StrCat(
            "Too many fetch responses left unread in this action (", kMaxOpenFetches,
            "): read their bodies to the end, or cancel them (response.body.cancel())"));
      } else {
        fetches->open.emplace(*id, nullptr);
      }
    }
    if (!refused.ok()) return std::move(done)(ErrorResult(refused));
    absl::StatusOr<std::shared_ptr<Fetch>> fetch = fetcher.Start(session->deployment->info().name, config->policy,
                                                                 config->limits, *std::move(request), session->deadline);
    {
      absl::MutexLock lock(&fetches->mu);
      auto held = fetches->open.find(*id);
      if (held == fetches->open.end() || fetches->finished) {
        // Cancelled (or the action ended) while it started.
        refused = absl::CancelledError(fetches->finished ? "the action has finished" : "The signal has been aborted");
        if (held != fetches->open.end()) fetches->open.erase(held);
      } else if (!fetch.ok()) {
        refused = fetch.status();
        fetches->open.erase(held);
      } else {
        held->second = *fetch;
      }
    }
    if (!refused.ok()) {
      if (fetch.ok()) (*fetch)->Cancel(refused);
      return std::move(done)(ErrorResult(refused));
    }
    if (streamed) return std::move(done)(absl::StrCat(R"({"id":)", *id, "}"));
    // No body to send first: answered with the head, a round trip fewer.
    (*fetch)->Head([fetches, id = *id, done = std::move(done)](absl::StatusOr<FetchHead> head) mutable {
      if (!head.ok()) {
        Close(*fetches, id);
        return std::move(done)(ErrorResult(head.status()));
      }
      std::move(done)(absl::StrCat(R"({"id":)", id, R"(,"head":)", HeadResult(*head), "}"));
    });
    return;
  }

  if (op == "isobar/fetchCancel") {
    absl::StatusOr<uint32_t> id = IdOf(*args);
    if (!id.ok()) return std::move(done)(id.status());
    std::shared_ptr<Fetch> cancelled;
    {
      absl::MutexLock lock(&fetches->mu);
      auto it = fetches->open.find(*id);
      if (it != fetches->open.end()) {
        cancelled = std::move(it->second);  // null while it is starting: the start sees it gone
        fetches->open.erase(it);
      } else {
        // Its start may still be on its way (or it has ended). Ids only grow: the oldest go first.
        fetches->cancelled_early.insert(*id);
        if (fetches->cancelled_early.size() > kMaxOpenFetches) fetches->cancelled_early.erase(fetches->cancelled_early.begin());
      }
    }
    if (cancelled != nullptr) cancelled->Cancel(absl::CancelledError("The signal has been aborted"));
    return std::move(done)(std::string("null"));
  }
  absl::StatusOr<std::pair<uint32_t, std::shared_ptr<Fetch>>> open = OpenFetch(*fetches, *args);
  if (!open.ok()) return std::move(done)(open.status());
  const uint32_t id = open->first;  // (not a structured binding: lambdas below capture them)
  const std::shared_ptr<Fetch> fetch = std::move(open->second);
  if (op == "isobar/fetchWrite") {
    std::string bytes;
    if (const std::optional<std::string> data = OptionalString(*args, "data"); data.has_value()) {
      std::optional<std::string> decoded = Base64Decode(*data);
      if (!decoded.has_value()) return std::move(done)(absl::InvalidArgumentError("isobar/fetchWrite: data is not base64"));
      bytes = *std::move(decoded);
    }
    const storage::Value last = args->Get("last");
    fetch->Write(std::move(bytes), last.type() == storage::Value::Type::kBoolean && last.boolean(),
                 [done = std::move(done)](absl::Status written) mutable {
                   std::move(done)(written.ok() ? std::string("null") : ErrorResult(written));
                 });
    return;
  }
  if (op == "isobar/fetchHead") {
    fetch->Head([fetches, id, done = std::move(done)](absl::StatusOr<FetchHead> head) mutable {
      if (!head.ok()) {
        Close(*fetches, id);
        return std::move(done)(ErrorResult(head.status()));
      }
      std::move(done)(HeadResult(*head));
    });
    return;
  }
  // isobar/fetchRead
  fetch->Read(kReadPartBytes, [fetches, id, fetch, done = std::move(done)](absl::StatusOr<std::string> part) mutable {
    // The last part says so: no read just to hear the end.
    const bool end = !part.ok() || part->empty() || fetch->Drained();
    if (end) Close(*fetches, id);
    if (!part.ok()) return std::move(done)(ErrorResult(part.status()));
    // Not JSON, so the worker need not parse a megabyte of it: "d:<base64>" (more to come),
    // "e:<base64>" (the last part), "e:" (the end).
    std::move(done)(absl::StrCat(end ? "e:" : "d:", Base64Encode(*part)));
  });
}

void CancelFetches(InvocationSession& session) {
  // Made here if the invocation never fetched, so that a fetchStart still on its way is refused.
  std::shared_ptr<SessionFetches> fetches = FetchesOf(session);
  std::map<uint32_t, std::shared_ptr<Fetch>> open;
  {
    absl::MutexLock lock(&fetches->mu);
    fetches->finished = true;
    open.swap(fetches->open);
  }
  for (auto& [id, fetch] : open) {
    if (fetch != nullptr) fetch->Cancel(absl::CancelledError("the action has finished"));
  }
}

}  // namespace isobar::supervisor
