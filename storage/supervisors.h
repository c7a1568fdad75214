// The supervisors of a cluster that shares one database (ARCHITECTURE section of supervisor/cluster/
// README.md): each says where it is reached and renews a heartbeat; a deployment's writer lease
// (leases.h) says which one serves it.
//
//   RETURN_IF_ERROR(Heartbeat(pool, {.holder = "host-1a2b", .grpc_address = "10.0.0.5:7700"}));
//   ASSIGN_OR_RETURN(std::vector<SupervisorRecord> live, LiveSupervisors(pool, absl::Seconds(5)));
//   ASSIGN_OR_RETURN(std::optional<SupervisorRecord> owner, LiveLeaseHolder(pool, "chat", absl::Seconds(5)));
//
// A supervisor is live while its heartbeat is younger than the lease duration; a lease is live while
// it was renewed within it. Addresses are what the supervisors said of themselves (--advertise):
// only the cluster's own members write this table.
#ifndef ISOBAR_STORAGE_SUPERVISORS_H_
#define ISOBAR_STORAGE_SUPERVISORS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/pg_pool.h"

namespace isobar::storage {

struct SupervisorRecord {
  std::string holder;        // its lease holder name (one per data directory)
  std::string grpc_address;  // host:port of its gRPC API
  std::string http_address;  // host:port of its HTTP listener, or empty
};

// Says this supervisor is alive and where it is reached (inserts or refreshes its row).
absl::Status Heartbeat(PgPool& pool, const SupervisorRecord& self);
// A clean stop: the others stop counting it at once.
absl::Status LeaveCluster(PgPool& pool, const std::string& holder);

// The supervisors whose heartbeat is younger than `within`, by holder name.
absl::StatusOr<std::vector<SupervisorRecord>> LiveSupervisors(PgPool& pool, absl::Duration within);

// The supervisor holding deployment `name`'s lease, if the lease was renewed within `lease_duration`
// (a holder that is not a cluster member has empty addresses). Nullopt: nobody serves it now.
absl::StatusOr<std::optional<SupervisorRecord>> LiveLeaseHolder(PgPool& pool, absl::string_view name,
                                                                absl::Duration lease_duration);

// The deployments whose lease lapsed while held: the holder stopped renewing it without giving it up
// (it died, or lost the database). Given-up leases are not among them.
absl::StatusOr<std::vector<std::string>> LapsedDeployments(PgPool& pool, absl::Duration lease_duration);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SUPERVISORS_H_
