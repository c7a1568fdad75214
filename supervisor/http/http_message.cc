#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/http_field.h"
#include "supervisor/http/http_server.h"

// HttpServer's messages: what a request and a response are made of, and which responses may go out.
namespace isobar::supervisor {
namespace {

// A response's header block: what Beast 1.74 can write (it throws past 64 KiB in one field) and what
// any client would read.
constexpr size_t kMaxResponseHeaderBytes = 32 << 10;

}  // namespace

absl::Status CheckResponse(const HttpResponse& response) {
  if (response.status < 200 || response.status > 599) return absl::InvalidArgumentError("its status is not 200-599");
  if ((response.status == 204 || response.status == 304) &&
      (!response.body.empty() || response.source != nullptr || response.length.value_or(0) > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("a ", response.status, " response has no body"));
  }
  size_t bytes = 0;
  for (const auto& [name, value] : response.headers) {
    bytes += name.size() + value.size() + 4;
    if (name.empty() || name.size() > 256 ||
        !std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(c) || absl::StrContains("!#$%&'*+-.^_`|~", c);
        })) {
      return absl::InvalidArgumentError("a header name is not a token");
    }
    if (!IsHttpFieldValue(value)) {
      return absl::InvalidArgumentError(absl::StrCat("the value of header ", name, " holds a control character"));
    }
  }
  if (bytes > kMaxResponseHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat("its headers are over ", kMaxResponseHeaderBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::string_view HttpRequest::Header(absl::string_view lower_case_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_case_name) return value;
  }
  return {};
}

HttpResponse HttpResponse::Text(int status, std::string text) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "text/plain; charset=utf-8");
  response.body = std::move(text);
  if (!response.body.empty() && response.body.back() != '\n') response.body.push_back('\n');
  return response;
}

HttpResponse HttpResponse::Json(int status, std::string json) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("content-type", "application/json");
  response.body = std::move(json);
  return response;
}

}  // namespace isobar::supervisor
