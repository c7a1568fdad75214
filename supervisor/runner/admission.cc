#include "supervisor/runner/admission.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace isobar::supervisor {
namespace {

absl::string_view Plural(int kind) {
  static constexpr absl::string_view kNames[] = {"queries", "mutations", "actions"};
  return kNames[kind];
}

}  // namespace

AdmissionLimits AdmissionLimits::ForCores(int cores) {
  AdmissionLimits limits;
  const int scale = std::max(1, cores);
  for (int k = 0; k < 3; ++k) limits.total[k] = std::max(limits.per_deployment[k], limits.per_deployment[k] * scale);
  return limits;
}

Admission::Ticket& Admission::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = other.owner_;
    deployment_ = std::move(other.deployment_);
    kind_ = other.kind_;
    other.owner_ = nullptr;
  }
  return *this;
}

void Admission::Ticket::Release() {
  if (owner_ == nullptr) return;
  Admission* owner = owner_;
  owner_ = nullptr;
  owner->Release(deployment_, kind_);
}

void Admission::Admit(const std::string& deployment, FunctionKind kind, absl::Time deadline, Start start,
                      Refuse refuse) {
  const int k = static_cast<int>(kind);
  absl::Status refused;
  uint64_t queued_id = 0;
  {
    absl::MutexLock lock(&mu_);
    PerDeployment& d = deployments_[deployment];
    if (d.running[k] < limits_.per_deployment[k] && running_[k] < limits_.total[k] && d.queues[k].empty()) {
      ++d.running[k];
      ++running_[k];
      ++stats_.admitted;
      last_served_[k] = deployment;
    } else if (d.queues[k].size() >= limits_.queue_per_deployment) {
      ++stats_.refused;
      const bool own_cap = d.running[k] >= limits_.per_deployment[k];
      refused = absl::ResourceExhaustedError(
          own_cap ? absl::StrCat("deployment \"", deployment, "\" has too many ", Plural(k), " in flight: ",
                                 limits_.per_deployment[k], " running and ", limits_.queue_per_deployment,
                                 " waiting is its limit; try again later")
                  : absl::StrCat("the server has too many ", Plural(k), " in flight: ", limits_.total[k],
                                 " running in all deployments is its limit, and deployment \"", deployment,
                                 "\" already has ", limits_.queue_per_deployment, " waiting; try again later"));
    } else {
      queued_id = next_id_++;
      d.queues[k].push_back(Waiter{queued_id, deadline, absl::Now(), std::move(start), std::move(refuse)});
      ++stats_.queued;
    }
  }
  if (!refused.ok()) {
    std::move(refuse)(refused);
    return;
  }
  if (queued_id == 0) {
    if (wait_observer_) wait_observer_(kind, absl::ZeroDuration());
    std::move(start)(Ticket(this, deployment, kind));
    return;
  }
  if (deadline != absl::InfiniteFuture()) {
    executor_.RunAt(deadline, [this, deployment, k, queued_id] { Expire(deployment, k, queued_id); });
  }
}

void Admission::Release(const std::string& deployment, FunctionKind kind) {
  const int k = static_cast<int>(kind);
  std::vector<std::pair<std::string, Waiter>> runnable;
  {
    absl::MutexLock lock(&mu_);
    auto it = deployments_.find(deployment);
    if (it != deployments_.end()) --it->second.running[k];
    --running_[k];
    TakeRunnableLocked(k, &runnable);
    // Forget idle deployments: memory stays bounded by what is running and waiting.
    if (it != deployments_.end()) {
      const PerDeployment& d = it->second;
      bool idle = true;
      for (int i = 0; i < 3; ++i) idle = idle && d.running[i] == 0 && d.queues[i].empty();
      if (idle) deployments_.erase(it);
    }
  }
  StartAll(std::move(runnable), kind);
}

void Admission::TakeRunnableLocked(int k, std::vector<std::pair<std::string, Waiter>>* out) {
  while (running_[k] < limits_.total[k]) {
    // The next deployment after the last one served that has a waiter and room.
    auto pick = deployments_.end();
    auto start = deployments_.upper_bound(last_served_[k]);
    for (size_t step = 0; step < deployments_.size(); ++step) {
      if (start == deployments_.end()) start = deployments_.begin();
      PerDeployment& d = start->second;
      if (!d.queues[k].empty() && d.running[k] < limits_.per_deployment[k]) {
        pick = start;
        break;
      }
      ++start;
    }
    if (pick == deployments_.end()) return;
    PerDeployment& d = pick->second;
    ++d.running[k];
    ++running_[k];
    ++stats_.admitted;
    last_served_[k] = pick->first;
    out->emplace_back(pick->first, std::move(d.queues[k].front()));
    d.queues[k].pop_front();
  }
}

void Admission::StartAll(std::vector<std::pair<std::string, Waiter>> runnable, FunctionKind kind) {
  const absl::Time now = absl::Now();
  for (auto& [deployment, waiter] : runnable) {
    if (wait_observer_) wait_observer_(kind, now - waiter.queued_at);
    executor_.Run([this, deployment = deployment, kind, start = std::move(waiter.start)]() mutable {
      std::move(start)(Ticket(this, deployment, kind));
    });
  }
}

void Admission::Expire(const std::string& deployment, int k, uint64_t id) {
  Refuse refuse;
  int running = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = deployments_.find(deployment);
    if (it == deployments_.end()) return;
    std::deque<Waiter>& queue = it->second.queues[k];
    auto waiter = std::find_if(queue.begin(), queue.end(), [id](const Waiter& w) { return w.id == id; });
    if (waiter == queue.end()) return;  // admitted meanwhile
    refuse = std::move(waiter->refuse);
    queue.erase(waiter);
    running = it->second.running[k];
    ++stats_.expired;
  }
  std::move(refuse)(absl::DeadlineExceededError(
      absl::StrCat("the call's deadline passed while it waited for a slot (deployment \"", deployment, "\" had ",
                   running, " ", Plural(k), " running)")));
}

Admission::Stats Admission::stats() const {
  absl::MutexLock lock(&mu_);
  Stats out = stats_;
  out.running = running_;
  for (const auto& [name, d] : deployments_) {
    for (int k = 0; k < 3; ++k) out.waiting[k] += d.queues[k].size();
  }
  return out;
}

}  // namespace isobar::supervisor
