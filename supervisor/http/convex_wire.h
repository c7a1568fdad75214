// What Convex's two client protocols, its HTTP API and its sync protocol, share on the wire: JSON
// strings, log lines ("[LOG] 'hello'"), a failed function's message ("[Request ID: …] Server
// Error\n…"), which failures are the function's own, and the identity an admin acts as.
#ifndef ISOBAR_SUPERVISOR_HTTP_CONVEX_WIRE_H_
#define ISOBAR_SUPERVISOR_HTTP_CONVEX_WIRE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "isobar/v1/api.pb.h"
#include "storage/types.h"
#include "storage/value.h"
#include "supervisor/http/http_server.h"

namespace isobar::supervisor {

// A timestamp as Convex's protocols carry it: a JSON string of the base64 of its 8 little-endian
// bytes ("AAAAAAAAAAA=" for 0), and back from the string's contents.
std::string TimestampJson(storage::Timestamp ts);
absl::StatusOr<storage::Timestamp> ParseTimestamp(absl::string_view base64);

// `text` as a JSON string literal.
std::string JsonString(absl::string_view text);

// A JSON array of Convex's log line texts: "[LOG] 'hello'".
std::string LogLinesJson(const std::vector<isobar::v1::LogLine>& lines);

// A request that cannot run, as Convex answers one: `status` with {"code", "message"}.
HttpResponse ErrorResponse(int status, absl::string_view code, absl::string_view message);

// 405 "Method not allowed", with the methods that are.
HttpResponse MethodNotAllowed(absl::string_view allow);

// 16 hex digits, as Convex's request ids.
std::string NewRequestId();

// A failed function's message as Convex clients show it: "[Request ID: <id>] Server Error\n" then
// the message and the user's stack, ending in a newline.
std::string ErrorMessage(const isobar::v1::ErrorDetail& detail, absl::string_view request_id);

// Whether a failure is the function's own (thrown, invalid arguments, no such function, a limit of
// its own), which the Convex protocols report as the call's result, rather than the system's (the
// database away, a full queue), which they report as the request's failure.
bool IsFunctionFailure(const isobar::v1::ErrorDetail& detail);

// The identity an admin acts as, from Convex's UserIdentityAttributes (the base64 JSON after
// `Convex <admin key>:`, or Authenticate's `impersonating`): an object with `subject` and `issuer`;
// `tokenIdentifier` defaults to "<issuer>|<subject>". Identity JSON, checked.
absl::StatusOr<std::string> ActingAsIdentity(const storage::Value& attributes);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HTTP_CONVEX_WIRE_H_
