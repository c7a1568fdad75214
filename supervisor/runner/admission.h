// Admission control for clients' function calls: caps on running calls per deployment and kind and in
// total, bounded per-deployment queues served round-robin between deployments, and a deadline on
// every queued call. What does not fit is refused at once with RESOURCE_EXHAUSTED naming the limit.
//
//   Admission admission(limits, executor);
//   admission.Admit("chat", FunctionKind::kQuery, deadline,
//                   [](Admission::Ticket ticket) { ... run; the ticket frees the slot when destroyed ... },
//                   [](absl::Status refused) { ... });
//
// Exactly one of the two callbacks runs, on the calling thread (admitted or refused at once) or on the
// executor (admitted from the queue, or DEADLINE_EXCEEDED while queued). Nested calls (an action's
// runQuery, ...) are not admitted here: their caller already holds a slot, and making them wait for
// one could deadlock.
#ifndef ISOBAR_SUPERVISOR_RUNNER_ADMISSION_H_
#define ISOBAR_SUPERVISOR_RUNNER_ADMISSION_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "supervisor/deploy/code_version.h"

namespace isobar::supervisor {

struct AdmissionLimits {
  // Running calls of one deployment, by kind (query, mutation, action): Convex self-hosted's defaults.
  std::array<int, 3> per_deployment = {16, 16, 64};
  // Running calls of all deployments together, by kind.
  std::array<int, 3> total = {64, 64, 256};
  // Calls of one deployment and kind waiting for a slot.
  size_t queue_per_deployment = 256;

  // The defaults scaled to this machine: the totals grow with the cores (at least the per-deployment caps).
  static AdmissionLimits ForCores(int cores);
};

class Admission {
 public:
  // Frees its slot (and admits the next queued call) when destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : owner_(other.owner_), deployment_(std::move(other.deployment_)), kind_(other.kind_) {
      other.owner_ = nullptr;
    }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { Release(); }
    void Release();

   private:
    friend class Admission;
    Ticket(Admission* owner, std::string deployment, FunctionKind kind)
        : owner_(owner), deployment_(std::move(deployment)), kind_(kind) {}
    Admission* owner_ = nullptr;
    std::string deployment_;
    FunctionKind kind_ = FunctionKind::kQuery;
  };

  using Start = absl::AnyInvocable<void(Ticket) &&>;
  using Refuse = absl::AnyInvocable<void(absl::Status) &&>;

  // `executor` (not owned, must outlive this) runs queued admissions and deadline expiries.
  Admission(AdmissionLimits limits, Executor& executor) : limits_(limits), executor_(executor) {}

  void Admit(const std::string& deployment, FunctionKind kind, absl::Time deadline, Start start, Refuse refuse)
      ABSL_LOCKS_EXCLUDED(mu_);

  struct Stats {
    uint64_t admitted = 0, queued = 0, refused = 0, expired = 0;
    std::array<int, 3> running{};  // now, by kind
    std::array<size_t, 3> waiting{};
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const AdmissionLimits& limits() const { return limits_; }
  // Told how long each admitted call waited for its slot (zero when it had one at once). Before use.
  void SetWaitObserver(std::function<void(FunctionKind kind, absl::Duration waited)> observer) {
    wait_observer_ = std::move(observer);
  }

 private:
  struct Waiter {
    uint64_t id;
    absl::Time deadline;
    absl::Time queued_at;
    Start start;
    Refuse refuse;
  };
  struct PerDeployment {
    std::array<int, 3> running{};
    std::array<std::deque<Waiter>, 3> queues;
  };

  void Release(const std::string& deployment, FunctionKind kind) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes the next waiters that fit, round-robin over deployments; they start after mu_ is released.
  void TakeRunnableLocked(int kind, std::vector<std::pair<std::string, Waiter>>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Expire(const std::string& deployment, int kind, uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  void StartAll(std::vector<std::pair<std::string, Waiter>> runnable, FunctionKind kind);

  const AdmissionLimits limits_;
  Executor& executor_;
  std::function<void(FunctionKind, absl::Duration)> wait_observer_;
  mutable absl::Mutex mu_;
  std::map<std::string, PerDeployment> deployments_ ABSL_GUARDED_BY(mu_);
  std::array<int, 3> running_ ABSL_GUARDED_BY(mu_){};
  std::array<std::string, 3> last_served_ ABSL_GUARDED_BY(mu_);  // round-robin position, by kind
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_ADMISSION_H_
