#include "supervisor/egress/egress_config.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace isobar::supervisor {
namespace {

// "api.example.com" or "*.example.com": lower-case letters, digits, '-' and '.', at most 253 bytes.
bool IsHostPattern(absl::string_view host) {
  absl::ConsumePrefix(&host, "*.");
  return !host.empty() && host.size() <= 253 && !absl::StartsWith(host, ".") && !absl::EndsWith(host, ".") &&
         !absl::StrContains(host, "..") && std::all_of(host.begin(), host.end(), [](char c) {
           return absl::ascii_islower(static_cast<unsigned char>(c)) || absl::ascii_isdigit(static_cast<unsigned char>(c)) ||
                  c == '-' || c == '.';
         });
}

absl::Status AddRanges(const google::protobuf::RepeatedPtrField<std::string>& texts, absl::string_view field,
                       std::vector<CidrRange>& out) {
  for (const std::string& text : texts) {
    absl::StatusOr<CidrRange> range = ParseCidr(text);
    if (!range.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": '", text.substr(0, 100), "' is not an address range"));
    }
    out.push_back(*range);
  }
  return absl::OkStatus();
}

absl::Status AddHosts(const google::protobuf::RepeatedPtrField<std::string>& texts, absl::string_view field,
                      std::vector<std::string>& out) {
  for (const std::string& text : texts) {
    std::string host = absl::AsciiStrToLower(text);
    if (!IsHostPattern(host)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": '", text.substr(0, 100), "' is not a host name (or *.domain)"));
    }
    out.push_back(std::move(host));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EgressConfig> EgressConfigFromProto(const isobar::v1::EgressPolicy& proto) {
  EgressConfig config;
  config.enabled = !proto.disabled();
  if (absl::Status s = AddRanges(proto.allow(), "allow", config.policy.allow); !s.ok()) return s;
  if (absl::Status s = AddRanges(proto.deny(), "deny", config.policy.deny); !s.ok()) return s;
  if (absl::Status s = AddHosts(proto.allow_hosts(), "allow_hosts", config.policy.allow_hosts); !s.ok()) return s;
  if (absl::Status s = AddHosts(proto.deny_hosts(), "deny_hosts", config.policy.deny_hosts); !s.ok()) return s;
  for (uint32_t port : proto.ports()) {
    if (port == 0 || port > 65535) return absl::InvalidArgumentError(absl::StrCat("ports: ", port, " is not a port"));
    config.policy.ports.push_back(static_cast<uint16_t>(port));
  }
  if (proto.max_concurrent() > 1024) return absl::InvalidArgumentError("max_concurrent: at most 1024");
  if (proto.timeout_seconds() > 3600) return absl::InvalidArgumentError("timeout_seconds: at most 3600");
  if (proto.max_concurrent() > 0) config.limits.max_concurrent = static_cast<int>(proto.max_concurrent());
  if (proto.max_request_bytes() > 0) config.limits.max_request_bytes = proto.max_request_bytes();
  if (proto.max_response_bytes() > 0) config.limits.max_response_bytes = proto.max_response_bytes();
  if (proto.timeout_seconds() > 0) config.limits.timeout = absl::Seconds(proto.timeout_seconds());
  return config;
}

absl::StatusOr<EgressConfig> EgressConfigFromJson(const std::optional<std::string>& json) {
  isobar::v1::EgressPolicy proto;
  if (json.has_value() && !google::protobuf::util::JsonStringToMessage(*json, &proto).ok()) {
    return absl::DataLossError("the stored egress policy is not an EgressPolicy");
  }
  return EgressConfigFromProto(proto);
}

absl::StatusOr<EgressConfig> LoadEgressConfig(storage::Catalog& catalog, storage::DeploymentId deployment) {
  absl::StatusOr<std::optional<std::string>> stored = catalog.EgressPolicy(deployment);
  if (!stored.ok()) return stored.status();
  return EgressConfigFromJson(*stored);
}

isobar::v1::EgressPolicy EffectiveEgressPolicy(const isobar::v1::EgressPolicy& proto) {
  isobar::v1::EgressPolicy out = proto;
  const FetchLimits defaults;
  if (out.ports().empty()) {
    out.add_ports(80);
    out.add_ports(443);
  }
  if (out.max_concurrent() == 0) out.set_max_concurrent(static_cast<uint32_t>(defaults.max_concurrent));
  if (out.max_request_bytes() == 0) out.set_max_request_bytes(defaults.max_request_bytes);
  if (out.max_response_bytes() == 0) out.set_max_response_bytes(defaults.max_response_bytes);
  if (out.timeout_seconds() == 0) out.set_timeout_seconds(static_cast<uint32_t>(absl::ToInt64Seconds(defaults.timeout)));
  return out;
}

}  // namespace isobar::supervisor
