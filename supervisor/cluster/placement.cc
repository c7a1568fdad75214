#include "supervisor/cluster/placement.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/status_macros.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "cluster";

uint64_t Score(absl::string_view deployment, absl::string_view holder) {
  const std::string digest = Sha256(absl::StrCat(holder, absl::string_view("\0", 1), deployment));
  uint64_t score = 0;
  std::memcpy(&score, digest.data(), sizeof(score));
  return score;
}

}  // namespace

storage::SupervisorRecord RankFirst(absl::string_view deployment, const std::vector<storage::SupervisorRecord>& members) {
  const storage::SupervisorRecord* best = nullptr;
  uint64_t best_score = 0;
  for (const storage::SupervisorRecord& member : members) {
    const uint64_t score = Score(deployment, member.holder);
    if (best == nullptr || score > best_score || (score == best_score && member.holder < best->holder)) {
      best = &member;
      best_score = score;
    }
  }
  return best == nullptr ? storage::SupervisorRecord{} : *best;
}

Placement::Placement(storage::PgPool& pool, LiveDeployments& live, PlacementOptions options)
    : pool_(pool), live_(live), options_(std::move(options)), self_(options_.self) {}

absl::Status Placement::Join(const std::string& grpc_address) {
  {
    absl::MutexLock lock(&mu_);
    if (joined_) return absl::FailedPreconditionError("already joined");
  }
  self_.grpc_address = grpc_address;  // before the heartbeat thread, which reads it
  RETURN_IF_ERROR(storage::Heartbeat(pool_, self_));
  Members().IgnoreError();  // seen from the start, not a heartbeat later (and then at each heartbeat)
  absl::MutexLock lock(&mu_);
  joined_ = true;
  heartbeat_ = std::thread([this] { Beat(); });
  ISOBAR_LOG(kInfo, kComponent) << "joined the cluster as " << self_.holder << " at "
                                << self_.grpc_address;
  return absl::OkStatus();
}

void Placement::Leave() {
  {
    absl::MutexLock lock(&mu_);
    if (!joined_ || stopping_) return;
    stopping_ = true;
  }
  heartbeat_.join();
  if (absl::Status left = storage::LeaveCluster(pool_, self_.holder); !left.ok()) {
    ISOBAR_LOG(kWarning, kComponent) << "could not say we left the cluster: " << left;
  }
}

void Placement::Beat() {
  bool warned = false;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.heartbeat_interval);
      if (stopping_) return;
    }
    absl::Status beat = storage::Heartbeat(pool_, self_);
    if (!beat.ok()) {
      if (!warned) ISOBAR_LOG(kWarning, kComponent) << "heartbeat failed (other members will soon count us out): " << beat;
      warned = true;
      continue;
    }
    warned = false;
    absl::StatusOr<std::vector<storage::SupervisorRecord>> members = Members();
    if (!members.ok()) continue;
    if (!lapsed_observer_) continue;
    absl::StatusOr<std::vector<std::string>> lapsed = storage::LapsedDeployments(pool_, options_.lease_duration);
    if (!lapsed.ok()) continue;
    for (const std::string& deployment : *lapsed) {
      if (RankFirst(deployment, *members).holder == self_.holder) lapsed_observer_(deployment);
    }
  }
}

absl::StatusOr<std::vector<storage::SupervisorRecord>> Placement::Members() {
  // Read fresh: a placement sticks (the lease taken follows it), so it must see a member that
  // joined a moment ago, not the view of the last heartbeat.
  ASSIGN_OR_RETURN(std::vector<storage::SupervisorRecord> members,
                   storage::LiveSupervisors(pool_, options_.lease_duration));
  absl::MutexLock lock(&mu_);
  members_ = members;
  return members;
}

std::vector<storage::SupervisorRecord> Placement::members() const {
  absl::MutexLock lock(&mu_);
  return members_;
}

absl::StatusOr<Route> Placement::Find(absl::string_view deployment, bool forwarded) {
  if (live_.FindOpen(deployment) != nullptr) return Route{};
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    if (auto known = remote_.find(deployment); known != remote_.end()) {
      if (known->second.until > now && !forwarded) return Route{.here = false, .member = known->second.member};
      remote_.erase(known);
    }
  }
  ASSIGN_OR_RETURN(std::optional<storage::SupervisorRecord> holder,
                   storage::LiveLeaseHolder(pool_, deployment, options_.lease_duration));
  storage::SupervisorRecord serves;
  if (holder.has_value()) {
    if (holder->holder == self_.holder) return Route{};
    if (holder->grpc_address.empty()) {
      return absl::UnavailableError(absl::StrCat("deployment ", deployment, " is served by supervisor ", holder->holder,
                                                 ", which is not a member of this cluster (started without --cluster)"));
    }
    // A forwarded call that finds the lease elsewhere: the sender's view was stale. Not forwarded
    // again (no loops); the client retries and its next entry point knows better.
    if (forwarded) {
      return absl::UnavailableError(absl::StrCat("deployment ", deployment, " moved to supervisor ", holder->holder,
                                                 " while the call was forwarded; try again"));
    }
    serves = *std::move(holder);
  } else {
    if (forwarded) return Route{};
    ASSIGN_OR_RETURN(std::vector<storage::SupervisorRecord> members, Members());
    serves = RankFirst(deployment, members);
    if (serves.holder.empty() || serves.holder == self_.holder) return Route{};
  }
  absl::MutexLock lock(&mu_);
  remote_[std::string(deployment)] = Known{serves, now + options_.heartbeat_interval};
  return Route{.here = false, .member = std::move(serves)};
}

std::optional<Route> Placement::FindKnown(absl::string_view deployment) {
  if (live_.FindOpen(deployment) != nullptr) return std::nullopt;  // it came here since (a failover)
  absl::MutexLock lock(&mu_);
  auto known = remote_.find(deployment);
  if (known == remote_.end() || known->second.until <= absl::Now()) return std::nullopt;
  return Route{.here = false, .member = known->second.member};
}

bool Placement::HeldElsewhere(absl::string_view deployment) {
  absl::StatusOr<std::optional<storage::SupervisorRecord>> holder =
      storage::LiveLeaseHolder(pool_, deployment, options_.lease_duration);
  // Unknown (PostgreSQL is away): as a lone supervisor would, try; opening it will tell.
  return holder.ok() && holder->has_value() && (*holder)->holder != self_.holder;
}

void Placement::Unreachable(const storage::SupervisorRecord& member) {
  absl::MutexLock lock(&mu_);
  for (auto it = remote_.begin(); it != remote_.end();) {
    it = it->second.member.holder == member.holder ? remote_.erase(it) : std::next(it);
  }
}

}  // namespace isobar::supervisor
