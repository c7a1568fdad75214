// What the HTTP surface decodes from clients and tenants before anything runs: an HTTP action's
// response as the tenant's router wrote it, Range headers, the request handed to a router (it must
// read back exactly), route matching against a pushed route list, upload tokens and serving
// signatures (random input never passes), and the sync protocol's timestamps. The first byte picks
// the decoder; the rest is its input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "base/utf8.h"
#include "storage/convex_json.h"
#include "supervisor/http/convex_wire.h"
#include "supervisor/http/file_routes.h"
#include "supervisor/http/http_actions.h"
#include "supervisor/runner/file_storage.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using isobar::storage::Value;
namespace sv = isobar::supervisor;

isobar::storage::ConvexJsonOptions Plain() {
  isobar::storage::ConvexJsonOptions plain;
  plain.plain = true;
  return plain;
}

void RouterResponse(const std::string& input) {
  constexpr size_t kMax = 64;
  absl::StatusOr<sv::HttpResponse> response = sv::HttpActionResponse(input, kMax);
  if (!response.ok()) return;
  FUZZ_CHECK(response->status >= 200 && response->status <= 599);
  FUZZ_CHECK(response->body.size() <= kMax);
  for (const auto& [name, value] : response->headers) {
    FUZZ_CHECK(value.find_first_of(std::string("\r\n\0", 3)) == std::string::npos);
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
    FUZZ_CHECK(name != "content-length" && name != "transfer-encoding" && name != "connection");
  }
}

void Range(const std::string& input) {
  if (input.size() < 2) return;
  // A file size from the first two bytes (0..65535), the header from the rest.
  const uint64_t size = static_cast<uint8_t>(input[0]) * 256u + static_cast<uint8_t>(input[1]);
  absl::StatusOr<std::optional<sv::ByteRange>> range = sv::ParseRange(input.substr(2), size);
  if (range.ok() && range->has_value()) {
    FUZZ_CHECK((*range)->first <= (*range)->last);
    FUZZ_CHECK((*range)->last < size);
  }
  (void)sv::QueryParameter(input, "token");
}

// "method\ntarget\nname:value\n...\n\nbody": the request a router gets reads back as sent.
void RequestRoundTrip(const std::string& input) {
  const size_t blank = input.find("\n\n");
  const std::string head = input.substr(0, blank);
  sv::HttpRequest request;
  request.body = blank == std::string::npos ? "" : input.substr(blank + 2);
  std::vector<std::string> lines = absl::StrSplit(head, '\n');
  if (lines.size() < 2) return;
  request.method = lines[0];
  request.target = lines[1];
  for (size_t i = 2; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    request.headers.emplace_back(lines[i].substr(0, colon), lines[i].substr(colon + 1));
  }
  const std::string json = sv::HttpActionRequestJson(request, "http://h" + request.target);
  absl::StatusOr<Value> parsed = isobar::storage::ParseConvexJson(json, Plain());
  FUZZ_CHECK(parsed.ok());  // whatever the bytes, the router gets JSON it can read
  if (isobar::IsValidUtf8(request.method)) FUZZ_CHECK(parsed->Get("method").string() == request.method);
  const Value& body = parsed->Get("body");
  if (request.method == "GET" || request.method == "HEAD") {
    FUZZ_CHECK(body.type() == Value::Type::kNull);
  } else {
    std::string decoded;
    FUZZ_CHECK(body.type() == Value::Type::kString && absl::Base64Unescape(body.string(), &decoded));
    FUZZ_CHECK(decoded == request.body);
  }
  // Every header but the framing ones, in order; a value's bytes as one character each.
  size_t kept = 0;
  for (const auto& [name, value] : request.headers) {
    if (name == "content-length" || name == "transfer-encoding" || name == "connection" || name == "keep-alive" ||
        name == "upgrade" || name == "proxy-connection" || name == "te" || name == "trailer") {
      continue;
    }
    const Value& pair = parsed->Get("headerPairs").array().at(kept++);
    const std::string& text = pair.array().at(1).string();
    size_t characters = 0;
    for (unsigned char c : text) characters += (c & 0xC0) != 0x80;
    FUZZ_CHECK(characters == value.size());
  }
  FUZZ_CHECK(kept == parsed->Get("headerPairs").array().size());
}

// "routes JSON\nmethod\npath"
void Routes(const std::string& input) {
  std::vector<std::string> parts = absl::StrSplit(input, absl::MaxSplits('\n', 2));
  if (parts.size() != 3) return;
  absl::StatusOr<Value> routes = isobar::storage::ParseConvexJson(parts[0], Plain());
  if (!routes.ok()) return;
  std::optional<std::string> route = sv::MatchHttpRoute(*routes, parts[1], parts[2]);
  if (!route.has_value()) return;
  const std::string method = parts[1] == "HEAD" ? "GET" : parts[1];
  FUZZ_CHECK(absl::StartsWith(*route, method + " "));
  const std::string pattern = route->substr(method.size() + 1);
  if (absl::EndsWith(pattern, "/*")) {
    FUZZ_CHECK(pattern == parts[2] || absl::StartsWith(parts[2], pattern.substr(0, pattern.size() - 1)));
  } else {
    FUZZ_CHECK(pattern == parts[2]);
  }
}

void Signatures(const std::string& input) {
  const isobar::storage::DeploymentInfo deployment{isobar::storage::DeploymentId(7), "fuzz", std::string(32, 'k')};
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  FUZZ_CHECK(!sv::CheckUploadToken(deployment, input, now).ok());
  const size_t amp = input.find('&');
  FUZZ_CHECK(!sv::CheckServingSignature(deployment, "id", input.substr(0, amp),
                                        amp == std::string::npos ? "" : input.substr(amp + 1), now)
                  .ok());
}

void Timestamps(const std::string& input) {
  absl::StatusOr<isobar::storage::Timestamp> ts = sv::ParseTimestamp(input);
  if (!ts.ok()) return;
  const std::string json = sv::TimestampJson(*ts);
  FUZZ_CHECK(json.size() >= 2 && json.front() == '"' && json.back() == '"');
  absl::StatusOr<isobar::storage::Timestamp> again = sv::ParseTimestamp(json.substr(1, json.size() - 2));
  FUZZ_CHECK(again.ok() && *again == *ts);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: RouterResponse(input); break;
    case 1: Range(input); break;
    case 2: RequestRoundTrip(input); break;
    case 3: Routes(input); break;
    case 4: Signatures(input); break;
    default: Timestamps(input); break;
  }
  return 0;
}
