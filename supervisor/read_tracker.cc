#include "supervisor/read_tracker.h"

namespace isobar::supervisor {
ReadTracker::WatchId ReadTracker::Watch(const std::string& deployment, std::shared_ptr<const storage::ReadSet> reads,
                                        storage::Timestamp ts, OnInvalid on_invalid) {
  std::optional<storage::Timestamp> invalid_at;
  std::function<void()> after;
  WatchId id = 0;
  {
    absl::MutexLock lock(&mu_);
    Deployment& d = deployments_[deployment];
    if (ts < d.processed) {
      // Commits seen since the result was computed: does one of them overlap it? If the log no longer
      // holds all of them, the result counts as stale.
      if (ts < d.log_floor) invalid_at = d.processed;
      for (auto it = d.log.rbegin(); !invalid_at.has_value() && it != d.log.rend() && it->first > ts; ++it) {
        for (const auto& [index, key] : it->second) {
          if (reads->Contains(index, key)) {
            invalid_at = it->first;
            break;
          }
        }
      }
    }
    if (invalid_at.has_value()) {
      after = on_invalid(*invalid_at);
    } else {
      id = next_id_++;
      for (const auto& [index, ranges] : reads->by_index()) {
        auto& by_start = d.intervals[index];
        for (const storage::KeyRange& range : ranges) by_start.emplace(range.start, Interval{range.end, id});
      }
      d.watches.emplace(id, Watched{std::move(reads), std::move(on_invalid)});
      return id;
    }
  }
  if (after) after();
  return 0;
}

ReadTracker::OnInvalid ReadTracker::Drop(Deployment& d, WatchId id) {
  auto it = d.watches.find(id);
  if (it == d.watches.end()) return nullptr;
  for (const auto& [index, ranges] : it->second.reads->by_index()) {
    auto by_index = d.intervals.find(index);
    if (by_index == d.intervals.end()) continue;
    for (const storage::KeyRange& range : ranges) {
      auto [first, last] = by_index->second.equal_range(range.start);
      for (auto i = first; i != last; ++i) {
        if (i->second.id == id) {
          by_index->second.erase(i);
          break;
        }
      }
    }
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
  absl::MutexLock lock(&mu_);
  auto d = deployments_.find(deployment);
  if (d != deployments_.end()) Drop(d->second, id);
}

void ReadTracker::InvalidateAll(const std::string& deployment) {
  std::vector<std::function<void()>> after;
  {
    absl::MutexLock lock(&mu_);
    auto it = deployments_.find(deployment);
    if (it == deployments_.end()) return;
    Deployment& d = it->second;
    std::vector<WatchId> all;
    for (const auto& [id, watched] : d.watches) all.push_back(id);
    InvalidateLocked(d, all, d.processed, &after);
  }
  for (std::function<void()>& then : after) then();
}

void ReadTracker::Observe(const std::string& deployment, const storage::PublishedCommit& commit) {
  std::vector<std::function<void()>> after;
  {
    absl::MutexLock lock(&mu_);
    Deployment& d = deployments_[deployment];
    std::vector<std::pair<storage::IndexId, std::string>> keys;
    std::vector<WatchId> hit;
    for (const storage::PublishedCommit::Change& change : commit.changes) {
      for (const auto& [index, key] : change.keys) {
        keys.emplace_back(index, key);
        auto by_index = d.intervals.find(index);
        if (by_index == d.intervals.end()) continue;
        // Intervals starting at or before the key; those whose end is past it contain it.
        for (auto i = by_index->second.begin(), stop = by_index->second.upper_bound(key); i != stop; ++i) {
          if (!i->second.end.has_value() || key < *i->second.end) hit.push_back(i->second.id);
        }
      }
    }
    InvalidateLocked(d, hit, commit.ts, &after);  // marked before processed() moves on
    d.processed = commit.ts;
    d.log.emplace_back(commit.ts, std::move(keys));
    while (d.log.size() > log_commits_) {
      d.log_floor = d.log.front().first;
      d.log.pop_front();
    }
  }
  for (std::function<void()>& then : after) then();
}

storage::Timestamp ReadTracker::Now(const std::string& deployment, storage::Database& db) {
  absl::MutexLock lock(&mu_);
  Deployment& d = deployments_[deployment];
  if (d.processed.value() == 0) {
    // Nothing published since this supervisor started: everything up to the newest commit is seen.
    d.processed = db.committer().Latest();
    d.log_floor = d.processed;
  }
  return d.processed;
}

storage::Timestamp ReadTracker::processed(const std::string& deployment) const {
  absl::MutexLock lock(&mu_);
  auto d = deployments_.find(deployment);
  return d == deployments_.end() ? storage::Timestamp(0) : d->second.processed;
}

size_t ReadTracker::watched() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [name, d] : deployments_) n += d.watches.size();
  return n;
}

}  // namespace isobar::supervisor
