#include "supervisor/http/convex_wire.h"

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/convex_json.h"
#include "supervisor/gateway/gateway.h"

namespace isobar::supervisor {

using storage::Value;

std::string TimestampJson(storage::Timestamp ts) {
  return absl::StrCat("\"", storage::LittleEndianBase64(static_cast<uint64_t>(ts.value())), "\"");
}

absl::StatusOr<storage::Timestamp> ParseTimestamp(absl::string_view base64) {
  std::string bytes;
  if (!absl::Base64Unescape(base64, &bytes) || bytes.size() != 8) {
    return absl::InvalidArgumentError("a timestamp is the base64 of 8 bytes");
  }
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  return storage::Timestamp(static_cast<int64_t>(value));
}

std::string JsonString(absl::string_view text) { return storage::ToConvexJson(Value::String(std::string(text))); }

std::string LogLinesJson(const std::vector<isobar::v1::LogLine>& lines) {
  std::string json = "[";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) json.push_back(',');
    json.append(JsonString(absl::StrCat("[", absl::AsciiStrToUpper(lines[i].level()), "] ", lines[i].message())));
  }
  json.push_back(']');
  return json;
}

HttpResponse ErrorResponse(int status, absl::string_view code, absl::string_view message) {
  return HttpResponse::Json(status, absl::StrCat("{\"code\":", JsonString(code), ",\"message\":", JsonString(message), "}"));
}

HttpResponse MethodNotAllowed(absl::string_view allow) {
  HttpResponse response = HttpResponse::Text(405, "Method not allowed");
  response.headers.emplace_back("allow", std::string(allow));
  return response;
}

std::string NewRequestId() {
  thread_local absl::BitGen bits;
  return absl::StrCat(absl::Hex(absl::Uniform<uint64_t>(bits), absl::kZeroPad16));
}

std::string ErrorMessage(const isobar::v1::ErrorDetail& detail, absl::string_view request_id) {
  std::string message = absl::StrCat("[Request ID: ", request_id, "] Server Error\n", detail.message(), detail.stack());
  if (message.back() != '\n') message.push_back('\n');
  return message;
}

bool IsFunctionFailure(const isobar::v1::ErrorDetail& detail) {
  using Kind = isobar::v1::ErrorDetail;
  switch (detail.kind()) {
    case Kind::USER_ERROR:
    case Kind::CONVEX_ERROR:
    case Kind::INVALID_REQUEST:
    case Kind::LIMIT:
    case Kind::PRECONDITION:
      return !detail.retryable();
    default:
      return false;
  }
}

absl::StatusOr<std::string> ActingAsIdentity(const Value& attributes) {
  if (attributes.type() != Value::Type::kObject) return absl::InvalidArgumentError("the identity is not an object");
  Value::Object fields = attributes.object();
  const Value& issuer = attributes.Get("issuer");
  const Value& subject = attributes.Get("subject");
  if (attributes.Get("tokenIdentifier").is_undefined() && issuer.type() == Value::Type::kString &&
      subject.type() == Value::Type::kString) {
    fields.emplace_back("tokenIdentifier", Value::String(absl::StrCat(issuer.string(), "|", subject.string())));
  }
  absl::StatusOr<Value> object = Value::MakeObject(std::move(fields));
  if (!object.ok()) return object.status();
  std::string identity = storage::ToConvexJson(*object);
  if (absl::Status checked = Gateway::CheckIdentity(identity); !checked.ok()) return checked;
  return identity;
}

}  // namespace isobar::supervisor
