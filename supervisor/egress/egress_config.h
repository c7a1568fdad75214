// A deployment's egress configuration as the operator sets it (isobar.v1.EgressPolicy, stored as JSON
// in the catalog), turned into what HttpFetcher enforces: the address policy and the limits.
#ifndef ISOBAR_SUPERVISOR_EGRESS_EGRESS_CONFIG_H_
#define ISOBAR_SUPERVISOR_EGRESS_EGRESS_CONFIG_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/isobar/v1/api.pb.h"
#include "storage/catalog.h"
#include "supervisor/egress/address_policy.h"
#include "supervisor/egress/http_fetcher.h"

namespace isobar::supervisor {

struct EgressConfig {
  bool enabled = true;
  EgressPolicy policy;
  FetchLimits limits;
};

// INVALID_ARGUMENT naming the first entry that is not a range, host pattern or port.
absl::StatusOr<EgressConfig> EgressConfigFromProto(const isobar::v1::EgressPolicy& proto);
// From the catalog's JSON; nullopt (nothing stored) is the defaults.
absl::StatusOr<EgressConfig> EgressConfigFromJson(const std::optional<std::string>& json);
// `deployment`'s, as the catalog holds it now (for its actions' fetches and its identity documents).
absl::StatusOr<EgressConfig> LoadEgressConfig(storage::Catalog& catalog, storage::DeploymentId deployment);
// The policy with every default spelled out, as GetEgress shows it.
isobar::v1::EgressPolicy EffectiveEgressPolicy(const isobar::v1::EgressPolicy& proto);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_EGRESS_EGRESS_CONFIG_H_
