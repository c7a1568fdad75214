#include "supervisor/runner/http_response_stream.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/base64.h"
#include "supervisor/runner/invocation_session.h"
#include "supervisor/runner/syscall_args.h"

namespace isobar::supervisor {

namespace {

// What one isobar/httpRequestRead hands over at most.
constexpr size_t kRequestPartBytes = 256 << 10;

}  // namespace

bool IsHttpResponseSyscall(absl::string_view op) {
  return op == "isobar/httpResponseStart" || op == "isobar/httpResponseChunk" || op == "isobar/httpRequestRead";
}

void ServeHttpResponseSyscall(InvocationSession& session, absl::string_view op, absl::string_view args_json,
                              absl::AnyInvocable<void(absl::StatusOr<std::string>) &&> done) {
  if (op == "isobar/httpRequestRead") {
    if (session.http_request_body == nullptr) {
      return std::move(done)(absl::InvalidArgumentError("isobar/httpRequestRead: this call has no streamed request body"));
    }
    return session.http_request_body->Read(kRequestPartBytes, [done = std::move(done)](absl::StatusOr<std::string> part) mutable {
      if (!part.ok()) return std::move(done)(part.status());
      std::move(done)(part->empty() ? std::string(R"({"done":true})")
                                    : absl::StrCat(R"({"data":")", Base64Encode(*part), R"("})"));
    });
  }
  if (session.http_stream == nullptr) {
    return std::move(done)(absl::InvalidArgumentError(absl::StrCat(op, " is for HTTP actions' responses only")));
  }
  if (op == "isobar/httpResponseStart") {
    absl::Status started = session.http_stream->Start(args_json);
    return std::move(done)(started.ok() ? absl::StatusOr<std::string>("null") : started);
  }
  absl::StatusOr<storage::Value> args = ParseSyscallArgs(args_json);
  if (!args.ok()) return std::move(done)(args.status());
  absl::StatusOr<std::string> data = StringArg(*args, "data");
  std::optional<std::string> decoded = data.ok() ? Base64Decode(*data) : std::nullopt;
  std::string bytes = decoded.value_or("");
  if (!decoded.has_value()) {
    return std::move(done)(absl::InvalidArgumentError("isobar/httpResponseChunk wants {data: <base64>}"));
  }
  session.http_stream->Write(std::move(bytes), [done = std::move(done)](absl::Status written) mutable {
    std::move(done)(written.ok() ? absl::StatusOr<std::string>("null") : written);
  });
}

}  // namespace isobar::supervisor
