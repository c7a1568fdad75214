// Writer leases: one supervisor serves a deployment at a time (ARCHITECTURE.md §4).
//
//   LeaseOptions options{.holder = "host-1a2b3c4d"};
//   ASSIGN_OR_RETURN(AcquiredLease lease, AcquireLease(pool, deployment, options));
//   ...every options.renew_interval:
//   ASSIGN_OR_RETURN(std::vector<DeploymentId> kept, RenewLeases(pool, options.holder, held));
//
// A lease row carries an epoch (bumped by every acquisition: commits check it, persistence.h), its
// holder (a supervisor's stable name, one per data directory) and when the holder last renewed it.
// A lease renewed within `duration` by another holder is live: AcquireLease refuses it unless
// `take_over`, and a taker waits `duration` before serving, by which time the previous holder has
// stopped serving by itself: a holder trusts its lease only until `duration` after it last sent a
// renewal that succeeded, so it can never serve a read that a new holder's commits made stale.
// Renewal answers which leases are still ours; a lease that is not (its epoch moved on) was taken.
#ifndef ISOBAR_STORAGE_LEASES_H_
#define ISOBAR_STORAGE_LEASES_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

struct LeaseEpoch {
  int64_t epoch = 0;
};

struct LeaseOptions {
  // Who we are; empty: a holder that nobody else will ever name (tests of one process).
  std::string holder;
  bool take_over = false;
  absl::Duration duration = absl::Seconds(5);
  absl::Duration renew_interval = absl::Seconds(1);
  // Trust a held lease only until `duration` after its last successful renewal (a supervisor, which
  // renews its leases). Off: until it is found lost (tests and tools that renew nothing).
  bool time_bound = false;
};

struct AcquiredLease {
  LeaseEpoch epoch;
  // The live holder it was taken from (take_over), or empty.
  std::string displaced;
  // Whoever held it last, live or not (empty for a first lease): another holder's in-flight work is
  // orphaned now (the scheduler recovers its actions).
  std::string previous_holder;
};

// UNAVAILABLE when another holder's lease is live and `take_over` is off.
absl::StatusOr<AcquiredLease> AcquireLease(PgPool& pool, DeploymentId deployment, const LeaseOptions& options);

// Renews `held` in one statement; the deployments whose lease is still ours (same holder and epoch).
absl::StatusOr<std::vector<DeploymentId>> RenewLeases(PgPool& pool, const std::string& holder,
                                                      absl::Span<const std::pair<DeploymentId, LeaseEpoch>> held);

// Gives leases up (a clean close), in one statement: the next holder need not wait for them to lapse.
absl::Status ReleaseLeases(PgPool& pool, const std::string& holder,
                           absl::Span<const std::pair<DeploymentId, LeaseEpoch>> held);

// FAILED_PRECONDITION naming the other holders of live leases, if any (start-up without take-over).
absl::Status CheckNoOtherLiveHolder(PgPool& pool, const LeaseOptions& options);

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_LEASES_H_
