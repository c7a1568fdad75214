// Several supervisors on one PostgreSQL (README.md): which of them serves a deployment.
//
//   Placement placement(lease_pool, live, {.self = {.holder = holder}, .lease_duration = ...});
//   RETURN_IF_ERROR(placement.Join("10.0.0.5:7700"));   // registers us; heartbeats every interval
//   ASSIGN_OR_RETURN(Route route, placement.Find("chat", /*forwarded=*/false));
//   if (!route.here) ...forward the call to route.member.grpc_address...
//
// One writer per deployment, as always: the supervisor holding its lease (storage/leases.h) serves
// it, reads and writes and jobs alike; the others forward to it. A deployment nobody holds goes to
// the live member that ranks first for it by rendezvous hashing over live members (the same answer
// on every member that sees the same members), so deployments spread across the cluster and, when a
// member dies, its deployments spread over the others. A forwarded call is never forwarded again: the
// member it reaches serves it (taking the lease if nobody holds it) or says UNAVAILABLE.
//
// Thread-safe. Find may wait on PostgreSQL (keep it off gRPC's threads). Where another member's
// deployment is served is kept for one heartbeat interval, and dropped at once when a forward fails to
// reach it; a deployment nobody holds is placed on the members read from PostgreSQL then (a placement
// sticks, so it must see a member that joined a moment ago).
#ifndef ISOBAR_SUPERVISOR_CLUSTER_PLACEMENT_H_
#define ISOBAR_SUPERVISOR_CLUSTER_PLACEMENT_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/pg_pool.h"
#include "storage/supervisors.h"
#include "supervisor/deploy/live_deployments.h"

namespace isobar::supervisor {

struct PlacementOptions {
  storage::SupervisorRecord self;  // our lease holder name and HTTP address (the gRPC one comes with Join)
  absl::Duration lease_duration = absl::Seconds(5);
  absl::Duration heartbeat_interval = absl::Seconds(1);
};

struct Route {
  bool here = true;
  storage::SupervisorRecord member;  // when not here: who serves it
};

// The member of `members` that ranks first for `deployment` (rendezvous hashing on SHA-256; ties go
// to the smaller holder name). Empty record if there are none.
storage::SupervisorRecord RankFirst(absl::string_view deployment, const std::vector<storage::SupervisorRecord>& members);

class Placement {
 public:
  // `pool` and `live` must outlive it. `pool` should be one that busy calls do not hold up (the lease pool).
  Placement(storage::PgPool& pool, LiveDeployments& live, PlacementOptions options);
  ~Placement() { Leave(); }
  Placement(const Placement&) = delete;
  Placement& operator=(const Placement&) = delete;

  // Once our gRPC API listens at `grpc_address` (what others dial): the first heartbeat (an error if
  // PostgreSQL refuses it), then a thread that renews it and looks for deployments whose holder died
  // (SetLapsedObserver). Calls may be placed before: members that did not join yet are not chosen.
  absl::Status Join(const std::string& grpc_address) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops heartbeating and says so: the others stop placing deployments here at once.
  void Leave() ABSL_LOCKS_EXCLUDED(mu_);

  // Told, on the heartbeat thread, of each deployment whose lease lapsed while held and that ranks us
  // first among live members: we should open it (its scheduled jobs would wait otherwise).
  void SetLapsedObserver(std::function<void(const std::string& deployment)> observer) {
    lapsed_observer_ = std::move(observer);
  }

  // Where `deployment` is served now. Here: it is open here, or we hold its lease, or nobody does and
  // it ranks us first (or the call was `forwarded` to us). Errors: PostgreSQL's.
  absl::StatusOr<Route> Find(absl::string_view deployment, bool forwarded) ABSL_LOCKS_EXCLUDED(mu_);
  // Another member, if Find would say so without a PostgreSQL round trip now (a route known from the
  // last heartbeat interval, and the deployment not open here), for gRPC's threads; nullopt: ask Find.
  std::optional<Route> FindKnown(absl::string_view deployment) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether another live member holds `deployment`'s lease (the scheduler leaves those alone; one
  // nobody holds it opens when a job is due, wherever it would rank). False when PostgreSQL cannot say.
  bool HeldElsewhere(absl::string_view deployment);
  // A forward to `member` did not reach it: forget what we knew through it.
  void Unreachable(const storage::SupervisorRecord& member) ABSL_LOCKS_EXCLUDED(mu_);

  const storage::SupervisorRecord& self() const { return self_; }
  // The live members as last seen (us included once joined).
  std::vector<storage::SupervisorRecord> members() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Beat() ABSL_LOCKS_EXCLUDED(mu_);
  // The live members, read from PostgreSQL now (and kept for members()).
  absl::StatusOr<std::vector<storage::SupervisorRecord>> Members() ABSL_LOCKS_EXCLUDED(mu_);

  storage::PgPool& pool_;
  LiveDeployments& live_;
  const PlacementOptions options_;
  storage::SupervisorRecord self_;  // options_.self, with the address Join gives
  std::function<void(const std::string&)> lapsed_observer_;
  std::thread heartbeat_;
  mutable absl::Mutex mu_;
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<storage::SupervisorRecord> members_ ABSL_GUARDED_BY(mu_);
  struct Known {
    storage::SupervisorRecord member;
    absl::Time until;
  };
  std::map<std::string, Known, std::less<>> remote_ ABSL_GUARDED_BY(mu_);  // deployment -> who serves it
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_CLUSTER_PLACEMENT_H_
