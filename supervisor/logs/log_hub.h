// Function log lines, fanned out to whoever tails them (Admin.TailLogs, `isobarctl logs`).
//
//   LogHub hub;
//   std::unique_ptr<LogHub::Subscription> tail = hub.Subscribe("chat");   // "" for every deployment
//   hub.Publish(entry);                                                    // from any thread
//   while (std::optional<isobar::v1::LogEntry> e = tail->Next(absl::Seconds(1))) ...
//
// Each subscription has a bounded queue: a tail that falls behind loses its oldest lines and is told
// how many ("... N lines dropped"), so a slow reader never holds up invocations or grows memory.
#ifndef ISOBAR_SUPERVISOR_LOGS_LOG_HUB_H_
#define ISOBAR_SUPERVISOR_LOGS_LOG_HUB_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "isobar/v1/api.pb.h"

namespace isobar::supervisor {

class LogHub {
 public:
  class Subscription {
   public:
    ~Subscription();  // unsubscribes
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // The next entry, waiting up to `timeout`; nullopt on timeout or once the hub is closed.
    std::optional<isobar::v1::LogEntry> Next(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
    // The hub was closed and every line has been taken.
    bool closed() ABSL_LOCKS_EXCLUDED(mu_);

   private:
    friend class LogHub;
    Subscription(LogHub& hub, std::string deployment, size_t capacity)
        : hub_(hub), deployment_(std::move(deployment)), capacity_(capacity) {}
    void Push(const isobar::v1::LogEntry& entry) ABSL_LOCKS_EXCLUDED(mu_);
    void Close() ABSL_LOCKS_EXCLUDED(mu_);

    LogHub& hub_;
    const std::string deployment_;  // "" for all
    const size_t capacity_;
    absl::Mutex mu_;
    std::deque<isobar::v1::LogEntry> queue_ ABSL_GUARDED_BY(mu_);
    uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
    bool closed_ ABSL_GUARDED_BY(mu_) = false;
  };

  explicit LogHub(size_t per_subscriber_capacity = 1024) : capacity_(per_subscriber_capacity) {}
  ~LogHub();  // every subscription must be gone first

  std::unique_ptr<Subscription> Subscribe(std::string deployment) ABSL_LOCKS_EXCLUDED(mu_);
  void Publish(const isobar::v1::LogEntry& entry) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends every subscription (its Next returns nullopt once drained): the supervisor is stopping.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Unsubscribe(Subscription* subscription) ABSL_LOCKS_EXCLUDED(mu_);

  const size_t capacity_;
  absl::Mutex mu_;
  absl::flat_hash_set<Subscription*> subscriptions_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_LOGS_LOG_HUB_H_
