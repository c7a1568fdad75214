#include "supervisor/api/serving_status.h"

#include "absl/strings/str_cat.h"

namespace isobar::supervisor {

void ServingStatus::Attach(grpc::HealthCheckServiceInterface* health) {
  absl::MutexLock lock(&mu_);
  health_ = health;
  ApplyLocked();
}

void ServingStatus::SetDatabaseAvailable(bool available) {
  absl::MutexLock lock(&mu_);
  database_available_ = available;
  ApplyLocked();
}

void ServingStatus::SetDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  ApplyLocked();
}

void ServingStatus::SetOwned(const std::string& deployment, bool owned) {
  absl::MutexLock lock(&mu_);
  owned_[deployment] = owned;
  if (health_ != nullptr) {
    health_->SetServingStatus(absl::StrCat("isobar.deployment/", deployment),
                              owned && database_available_ && !draining_);
  }
}

bool ServingStatus::database_available() const {
  absl::MutexLock lock(&mu_);
  return database_available_;
}

bool ServingStatus::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

void ServingStatus::ApplyLocked() {
  if (health_ == nullptr) return;
  const bool serving = database_available_ && !draining_;
  for (const std::string& service : services_) health_->SetServingStatus(service, serving);
  for (const auto& [deployment, owned] : owned_) {
    health_->SetServingStatus(absl::StrCat("isobar.deployment/", deployment), owned && serving);
  }
}

}  // namespace isobar::supervisor
