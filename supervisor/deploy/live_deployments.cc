#include "supervisor/deploy/live_deployments.h"

#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/versions.h"

namespace isobar::supervisor {

storage::TableOfId LiveDeployment::TableOfId() {
  return [this](const storage::DocumentId& id) -> std::optional<std::string> {
    absl::StatusOr<std::shared_ptr<const storage::TableSchema>> table = db_.schemas().ByNumber(id.table);
    if (!table.ok() || *table == nullptr) return std::nullopt;
    return (*table)->table.name;
  };
}

namespace {

constexpr char kComponent[] = "deployments";

// The leases `deployments` hold (those not lost to another supervisor).
std::vector<std::pair<storage::DeploymentId, storage::LeaseEpoch>> HeldLeases(
    const std::vector<std::shared_ptr<LiveDeployment>>& deployments) {
  std::vector<std::pair<storage::DeploymentId, storage::LeaseEpoch>> held;
  for (const auto& deployment : deployments) {
    if (!deployment->db().committer().lease_lost()) {
      held.emplace_back(deployment->info().id, deployment->db().committer().lease());
    }
  }
  return held;
}

absl::Status NotServed(const std::string& name) {
  return absl::UnavailableError(absl::StrCat(
      "deployment \"", name,
      "\" is not served by this supervisor now: it could not renew its writer lease (is PostgreSQL away?)"));
}

}  // namespace

std::shared_ptr<LiveDeployment> LiveDeployments::FindOpen(absl::string_view name, bool to_serve) {
  absl::MutexLock lock(&mu_);
  if (closed_) return nullptr;
  auto it = open_.find(name);
  if (it == open_.end() || (to_serve && !it->second->db().committer().LeaseValid())) return nullptr;
  it->second->Touch();
  return it->second;
}

std::vector<std::string> LiveDeployments::Owned() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> owned;
  for (const auto& [name, deployment] : open_) {
    if (deployment->db().committer().LeaseValid()) owned.push_back(name);
  }
  return owned;
}

void LiveDeployments::StartLeaseKeeper() {
  absl::MutexLock lock(&mu_);
  if (keeper_.joinable() || closed_) return;
  keeper_ = std::thread([this] { KeepLeases(); });
}

void LiveDeployments::KeepLeases() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&keeper_stopping_), lease_.renew_interval)) return;
    }
    std::vector<std::shared_ptr<LiveDeployment>> open = Open();
    if (open.empty()) continue;
    const auto sent = std::chrono::steady_clock::now();
    absl::StatusOr<std::vector<storage::DeploymentId>> kept =
        storage::RenewLeases(lease_pool_, lease_.holder, HeldLeases(open));
    if (!kept.ok()) {
      // Nothing renewed: the leases lapse by themselves after their duration, and serving stops.
      const std::string problem = absl::StrCat("cannot renew the writer leases: ", kept.status().ToString());
      if (std::optional<std::string> note = log_limiter_.Admit(problem, absl::Now())) {
        ISOBAR_LOG(kWarning, kComponent) << problem << *note;
      }
      continue;
    }
    const absl::flat_hash_set<storage::DeploymentId> still_ours(kept->begin(), kept->end());
    for (const auto& deployment : open) {
      if (still_ours.contains(deployment->info().id)) {
        deployment->db().committer().LeaseRenewed(sent);
      } else {
        Lost(deployment);
      }
    }
  }
}

void LiveDeployments::Lost(const std::shared_ptr<LiveDeployment>& deployment) {
  const std::string& name = deployment->info().name;
  deployment->db().committer().LeaseLost();  // at once: nothing more is served or committed
  {
    // Not under open_mu_: an opening (a take-over waits out a lease) must not hold renewals up.
    absl::MutexLock lock(&mu_);
    lost_.insert(name);  // never taken back over: two supervisors with --take-over would trade it
    auto it = open_.find(name);
    if (it == open_.end() || it->second != deployment) return;  // closed meanwhile
    open_.erase(it);
  }
  ISOBAR_LOG(kError, kComponent) << "another supervisor took deployment \"" << name
                                 << "\" over (its writer lease moved on); it is closed here and no longer served";
  // Every cached result of it is stale from now on; live subscriptions re-evaluate, find the lease
  // gone, and end.
  if (code_observer_) code_observer_(name);
  deployment->db().Close();
  if (close_observer_) close_observer_(name);
  if (ownership_observer_) ownership_observer_(name, false);
}

std::vector<std::shared_ptr<LiveDeployment>> LiveDeployments::Open() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<LiveDeployment>> open;
  if (closed_) return open;
  for (const auto& [name, deployment] : open_) open.push_back(deployment);
  return open;
}

void LiveDeployments::Release(const std::vector<std::shared_ptr<LiveDeployment>>& closed) {
  // Best effort: a lease not given up lapses by itself.
  if (absl::Status released = storage::ReleaseLeases(lease_pool_, lease_.holder, HeldLeases(closed)); !released.ok()) {
    ISOBAR_LOG(kInfo, kComponent) << "could not give writer leases up (they lapse by themselves): " << released;
  }
}

void LiveDeployments::Close() {
  {
    absl::MutexLock lock(&mu_);
    keeper_stopping_ = true;
  }
  if (keeper_.joinable()) keeper_.join();
  std::vector<std::shared_ptr<LiveDeployment>> closed;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    for (auto& [name, deployment] : open_) {
      deployment->db().Close();
      closed.push_back(deployment);
    }
  }
  Release(closed);
}

absl::StatusOr<std::shared_ptr<LiveDeployment>> LiveDeployments::Get(absl::string_view name) {
  auto find = [&]() -> absl::StatusOr<std::shared_ptr<LiveDeployment>> {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the supervisor is shutting down");
    auto it = open_.find(name);
    if (it == open_.end()) return std::shared_ptr<LiveDeployment>();
    if (!it->second->db().committer().LeaseValid()) return NotServed(it->second->info().name);
    it->second->Touch();
    return it->second;
  };
  ASSIGN_OR_RETURN(std::shared_ptr<LiveDeployment> found, find());
  if (found != nullptr) return found;
  absl::MutexLock opening(&open_mu_);
  ASSIGN_OR_RETURN(found, find());
  if (found != nullptr) return found;
  ASSIGN_OR_RETURN(storage::DeploymentInfo info, catalog_.GetDeployment(name));
  storage::CommitterOptions committer_options;
  committer_options.lease = lease_;
  {
    absl::MutexLock lock(&mu_);
    if (lost_.count(info.name) > 0) committer_options.lease.take_over = false;
  }
  auto deployment = std::make_shared<LiveDeployment>(pool_, info, std::move(committer_options), file_directory_);
  if (code_observer_) deployment->SetCodeObserver(code_observer_);
  if (observer_) {
    deployment->db().committer().SetPublishHook(
        [observer = observer_, name = info.name](const storage::PublishedCommit& commit) { observer(name, commit); });
  }
  if (absl::Status opened = deployment->db().Open(); !opened.ok()) {
    const std::string problem = absl::StrCat("cannot open the database of \"", info.name, "\": ", opened.message());
    if (std::optional<std::string> note = log_limiter_.Admit(problem, absl::Now())) {
      ISOBAR_LOG(kError, kComponent) << problem << *note;
    }
    // Another supervisor's live lease is worth saying (not which one: that is the operator's to know,
    // from the log); a PostgreSQL error is not the caller's business.
    if (absl::StrContains(opened.message(), "served by another supervisor")) {
      return absl::UnavailableError(absl::StrCat("deployment \"", info.name,
                                                 "\" is served by another supervisor of this database now"));
    }
    return absl::UnavailableError(absl::StrCat("the database of deployment \"", info.name, "\" is unavailable"));
  }
  storage::Versions versions(pool_);
  ASSIGN_OR_RETURN(std::optional<storage::VersionInfo> active, versions.Active(info.id, /*with_sources=*/true));
  if (active.has_value()) {
    ASSIGN_OR_RETURN(std::shared_ptr<const CodeVersion> code, CodeVersion::Build(*active));
    deployment->SetCode(std::move(code));
  }
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      deployment->db().Close();
      return absl::UnavailableError("the supervisor is shutting down");
    }
    open_.emplace(info.name, deployment);
  }
  if (ownership_observer_) ownership_observer_(info.name, true);
  if (const std::string& previous = deployment->db().committer().previous_holder();
      adoption_observer_ && !previous.empty() && previous != lease_.holder) {
    adoption_observer_(info.name);
  }
  return deployment;
}

size_t LiveDeployments::CloseIdle(absl::Duration idle) {
  // No deployment opens while idle ones close: one reopened before the close observer ran would share
  // what is kept about it by name (the read tracker's state) with the one closing.
  absl::MutexLock opening(&open_mu_);
  std::vector<std::shared_ptr<LiveDeployment>> idle_ones;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return 0;
    const absl::Time cutoff = absl::Now() - idle;
    for (auto it = open_.begin(); it != open_.end();) {
      // Held only by this map: nothing runs on it, and only Get (under mu_) could hand it out again.
      if (it->second.use_count() == 1 && it->second->last_used() < cutoff) {
        idle_ones.push_back(std::move(it->second));
        it = open_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::shared_ptr<LiveDeployment>& deployment : idle_ones) {
    deployment->db().Close();
    if (close_observer_) close_observer_(deployment->info().name);
    if (ownership_observer_) ownership_observer_(deployment->info().name, false);
  }
  Release(idle_ones);
  return idle_ones.size();
}

size_t LiveDeployments::open_count() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

}  // namespace isobar::supervisor
