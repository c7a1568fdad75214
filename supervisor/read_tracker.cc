#include "supervisor/read_tracker.h"

namespace isobar::supervisor {

std::shared_ptr<ReadTracker::Deployment> ReadTracker::FindOrCreate(absl::string_view deployment) {
  absl::MutexLock lock(&mu_);
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) it = deployments_.emplace(std::string(deployment), std::make_shared<Deployment>()).first;
  return it->second;
}

std::shared_ptr<ReadTracker::Deployment> ReadTracker::Find(absl::string_view deployment) const {
  absl::MutexLock lock(&mu_);
  auto it = deployments_.find(deployment);
  return it == deployments_.end() ? nullptr : it->second;
}

std::optional<storage::Timestamp> ReadTracker::StaleSince(const Deployment& d, const storage::ReadSet& reads,
                                                          storage::Timestamp ts) const {
  if (ts >= d.processed) return std::nullopt;
  if (ts < d.log_floor) return d.processed;  // the log no longer holds every commit since
  for (auto it = d.log.rbegin(); it != d.log.rend() && it->first > ts; ++it) {
    for (const auto& [index, key] : it->second) {
      if (reads.Contains(index, key)) return it->first;
    }
  }
  return std::nullopt;
}

ReadTracker::WatchId ReadTracker::Watch(const std::string& deployment, std::shared_ptr<const storage::ReadSet> reads,
                                        storage::Timestamp ts, OnInvalid on_invalid) {
  std::shared_ptr<Deployment> d = FindOrCreate(deployment);
  std::function<void()> after;
  {
    absl::MutexLock lock(&d->mu);
    if (std::optional<storage::Timestamp> stale = StaleSince(*d, *reads, ts); stale.has_value()) {
      after = on_invalid(*stale);
    } else {
      const WatchId id = next_id_.fetch_add(1);
      Watched watched{std::move(reads), std::move(on_invalid), {}};
      for (const auto& [index, ranges] : watched.reads->by_index()) {
        IntervalIndex& by_start = d->intervals[index];
        for (const storage::KeyRange& range : ranges) watched.entries.emplace_back(index, by_start.Insert(&range, id));
      }
      d->watches.emplace(id, std::move(watched));
      return id;
    }
  }
  if (after) after();
  return 0;
}

ReadTracker::OnInvalid ReadTracker::Drop(Deployment& d, WatchId id) {
  auto it = d.watches.find(id);
  if (it == d.watches.end()) return nullptr;
  for (const auto& [index, handle] : it->second.entries) {
    auto by_index = d.intervals.find(index);
    by_index->second.Erase(handle);
    if (by_index->second.empty()) d.intervals.erase(by_index);
  }
  OnInvalid callback = std::move(it->second.on_invalid);
  d.watches.erase(it);
  return callback;
}

void ReadTracker::InvalidateLocked(Deployment& d, const std::vector<WatchId>& ids, storage::Timestamp at,
                                   std::vector<std::function<void()>>* after) {
  for (WatchId id : ids) {
    if (OnInvalid callback = Drop(d, id); callback != nullptr) {
      if (std::function<void()> then = callback(at); then) after->push_back(std::move(then));
    }
  }
}

void ReadTracker::Unwatch(const std::string& deployment, WatchId id) {
  if (id == 0) return;
  std::shared_ptr<Deployment> d = Find(deployment);
  if (d == nullptr) return;
  OnInvalid dropped;  // destroyed outside the lock: it may own the last reference to a result
  absl::MutexLock lock(&d->mu);
  dropped = Drop(*d, id);
}

void ReadTracker::InvalidateAll(const std::string& deployment) {
  std::shared_ptr<Deployment> d = Find(deployment);
  if (d == nullptr) return;
  std::vector<std::function<void()>> after;
  {
    absl::MutexLock lock(&d->mu);
    std::vector<WatchId> all;
    all.reserve(d->watches.size());
    for (const auto& [id, watched] : d->watches) all.push_back(id);
    InvalidateLocked(*d, all, d->processed, &after);
  }
  for (std::function<void()>& then : after) then();
}

void ReadTracker::Observe(const std::string& deployment, const storage::PublishedCommit& commit) {
  std::shared_ptr<Deployment> d = FindOrCreate(deployment);
  std::vector<std::function<void()>> after;
  {
    absl::MutexLock lock(&d->mu);
    std::vector<std::pair<storage::IndexId, std::string>> keys;
    std::vector<WatchId> hit;
    for (const storage::PublishedCommit::Change& change : commit.changes) {
      for (const auto& [index, key] : change.keys) {
        keys.emplace_back(index, key);
        auto by_index = d->intervals.find(index);
        if (by_index == d->intervals.end()) continue;
        by_index->second.Stab(key, [&hit](uint64_t id) { hit.push_back(id); });
      }
    }
    InvalidateLocked(*d, hit, commit.ts, &after);  // marked before processed() moves on
    d->processed = commit.ts;
    d->log_keys += keys.size();
    d->log.emplace_back(commit.ts, std::move(keys));
    while (d->log.size() > log_commits_ || (d->log_keys > log_keys_ && !d->log.empty())) {
      d->log_floor = d->log.front().first;
      d->log_keys -= d->log.front().second.size();
      d->log.pop_front();
    }
  }
  for (std::function<void()>& then : after) then();
}

storage::Timestamp ReadTracker::Now(const std::string& deployment, storage::Database& db) {
  std::shared_ptr<Deployment> d = FindOrCreate(deployment);
  absl::MutexLock lock(&d->mu);
  if (d->processed.value() == 0) {
    // Nothing published since this supervisor started: everything up to the newest commit is seen.
    d->processed = db.committer().Latest();
    d->log_floor = d->processed;
  }
  return d->processed;
}

storage::Timestamp ReadTracker::processed(const std::string& deployment) const {
  std::shared_ptr<Deployment> d = Find(deployment);
  if (d == nullptr) return storage::Timestamp(0);
  absl::MutexLock lock(&d->mu);
  return d->processed;
}

size_t ReadTracker::watched() const {
  std::vector<std::shared_ptr<Deployment>> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, d] : deployments_) all.push_back(d);
  }
  size_t n = 0;
  for (const std::shared_ptr<Deployment>& d : all) {
    absl::MutexLock lock(&d->mu);
    n += d->watches.size();
  }
  return n;
}

}  // namespace isobar::supervisor
