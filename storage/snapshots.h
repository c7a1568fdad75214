// The snapshots open transactions read at, so that retention never deletes what one of them can see.
//
//   SnapshotRegistry registry;
//   SnapshotRegistry::Handle h = registry.Register(ts);   // released when `h` goes away
//   registry.Oldest();                                     // the oldest open snapshot, if any
#ifndef ISOBAR_STORAGE_SNAPSHOTS_H_
#define ISOBAR_STORAGE_SNAPSHOTS_H_

#include <map>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "storage/types.h"

namespace isobar::storage {

class SnapshotRegistry {
 public:
  class Handle {
   public:
    Handle() = default;
    Handle(Handle&& other) noexcept : registry_(other.registry_), ts_(other.ts_) { other.registry_ = nullptr; }
    Handle& operator=(Handle&&) = delete;
    Handle(const Handle&) = delete;
    ~Handle() {
      if (registry_ != nullptr) registry_->Release(ts_);
    }

   private:
    friend class SnapshotRegistry;
    Handle(SnapshotRegistry* registry, Timestamp ts) : registry_(registry), ts_(ts) {}
    SnapshotRegistry* registry_ = nullptr;  // not owned; outlives every handle
    Timestamp ts_;
  };

  Handle Register(Timestamp ts) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++open_[ts];
    return Handle(this, ts);
  }

  std::optional<Timestamp> Oldest() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (open_.empty()) return std::nullopt;
    return open_.begin()->first;
  }

 private:
  void Release(Timestamp ts) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto it = open_.find(ts);
    if (--it->second == 0) open_.erase(it);
  }

  mutable absl::Mutex mu_;
  std::map<Timestamp, int> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SNAPSHOTS_H_
