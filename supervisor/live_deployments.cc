#include "supervisor/live_deployments.h"

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

std::shared_ptr<LiveDeployment> LiveDeployments::FindOpen(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (closed_) return nullptr;
  auto it = open_.find(name);
  if (it == open_.end()) return nullptr;
  it->second->Touch();
  return it->second;
}

std::vector<std::shared_ptr<LiveDeployment>> LiveDeployments::Open() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<LiveDeployment>> open;
  if (closed_) return open;
  for (const auto& [name, deployment] : open_) open.push_back(deployment);
  return open;
}

void LiveDeployments::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  for (auto& [name, deployment] : open_) deployment->db().Close();
}

absl::StatusOr<std::shared_ptr<LiveDeployment>> LiveDeployments::Get(absl::string_view name) {
  auto find = [&]() -> absl::StatusOr<std::shared_ptr<LiveDeployment>> {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the supervisor is shutting down");
    auto it = open_.find(name);
    if (it == open_.end()) return std::shared_ptr<LiveDeployment>();
    it->second->Touch();
    return it->second;
  };
  ASSIGN_OR_RETURN(std::shared_ptr<LiveDeployment> found, find());
  if (found != nullptr) return found;
  absl::MutexLock opening(&open_mu_);
  ASSIGN_OR_RETURN(found, find());
  if (found != nullptr) return found;
  ASSIGN_OR_RETURN(storage::DeploymentInfo info, catalog_.GetDeployment(name));
  auto deployment = std::make_shared<LiveDeployment>(pool_, info);
  if (code_observer_) deployment->SetCodeObserver(code_observer_);
  if (observer_) {
    deployment->db().committer().SetPublishHook(
        [observer = observer_, name = info.name](const storage::PublishedCommit& commit) { observer(name, commit); });
  }
  if (absl::Status opened = deployment->db().Open(); !opened.ok()) {
    ISOBAR_LOG(kError, "deployments") << "cannot open the database of \"" << info.name << "\": " << opened;
    return absl::UnavailableError(absl::StrCat("the database of deployment \"", info.name, "\" is unavailable"));
  }
  storage::Versions versions(pool_);
  ASSIGN_OR_RETURN(std::optional<storage::VersionInfo> active, versions.Active(info.id, /*with_sources=*/true));
  if (active.has_value()) {
    ASSIGN_OR_RETURN(std::shared_ptr<const CodeVersion> code, CodeVersion::Build(*active));
    deployment->SetCode(std::move(code));
  }
  absl::MutexLock lock(&mu_);
  if (closed_) {
    deployment->db().Close();
    return absl::UnavailableError("the supervisor is shutting down");
  }
  open_.emplace(info.name, deployment);
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
  }
  return idle_ones.size();
}

size_t LiveDeployments::open_count() const {
  absl::MutexLock lock(&mu_);
  return open_.size();
}

}  // namespace isobar::supervisor
