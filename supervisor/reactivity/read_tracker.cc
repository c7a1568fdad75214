#include "supervisor/reactivity/read_tracker.h"

#include <algorithm>

#include "storage/index_key.h"

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
  if (d.forgotten) return ts;  // (closed while this result was made: it holds for no timestamp)
  if (ts >= d.processed || reads.intervals() == 0) return std::nullopt;  // no commit can touch what it read
  if (ts < d.log_floor) return d.processed;  // the log no longer holds every commit since
  for (auto it = d.log.rbegin(); it != d.log.rend() && it->first > ts; ++it) {
    for (const auto& [index, key] : it->second) {
      if (reads.Contains(index, key)) return it->first;
    }
  }
  return std::nullopt;
}

namespace {

// The bucket of `range`: the longest prefix P made of whole values (of its start) that holds every
// key of the range ([P, WholeValuesEnd(P)) holds exactly the keys whose leading values are P's), and
// whether it reads all of them ([P, WholeValuesEnd(P)), or [P, P + "\0") for a whole key P). ""
// (the root) when no such prefix holds it.
absl::string_view BucketOf(const storage::KeyRange& range, bool* whole) {
  *whole = false;
  if (!range.end.has_value()) return {};
  const std::string& start = range.start;
  const std::string& end = *range.end;
  absl::InlinedVector<size_t, 8> ends = storage::IndexKeyValueEnds(start);
  if (!ends.empty() && ends.back() == start.size()) {
    const bool point = end.size() == start.size() + 1 && end.back() == '\0' && end.compare(0, start.size(), start) == 0;
    if (point || end == storage::WholeValuesEnd(start)) {
      *whole = true;
      return start;
    }
  }
  for (auto it = ends.rbegin(); it != ends.rend(); ++it) {
    const absl::string_view prefix = absl::string_view(start).substr(0, *it);
    if (end <= storage::WholeValuesEnd(prefix)) return prefix;
  }
  return {};
}

}  // namespace

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
        IndexWatches& watches = d->indexes[index];
        for (const storage::KeyRange& range : ranges) {
          Entry entry{index};
          entry.bucket = BucketOf(range, &entry.whole);
          Bucket& bucket = watches[std::string(entry.bucket)];
          if (entry.whole) {
            bucket.whole.push_back(id);
          } else {
            entry.range = bucket.ranges.Insert(&range, id);
          }
          watched.entries.push_back(entry);
        }
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
  for (const Entry& entry : it->second.entries) {
    // Gone when a commit took every whole reader of the bucket at once, this one too.
    auto by_index = d.indexes.find(entry.index);
    if (by_index == d.indexes.end()) continue;
    IndexWatches& watches = by_index->second;
    auto bucket = watches.find(entry.bucket);
    if (bucket == watches.end()) continue;
    if (entry.whole) {
      auto& ids = bucket->second.whole;
      if (auto found = std::find(ids.begin(), ids.end(), id); found != ids.end()) ids.erase(found);
    } else {
      bucket->second.ranges.Erase(entry.range);
    }
    if (bucket->second.empty()) watches.erase(bucket);
    if (watches.empty()) d.indexes.erase(by_index);
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

void ReadTracker::Forget(const std::string& deployment) {
  InvalidateAll(deployment);
  std::shared_ptr<Deployment> forgotten;  // destroyed last, after its lock is released
  absl::MutexLock lock(&mu_);
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) return;
  forgotten = it->second;
  absl::MutexLock deployment_lock(&forgotten->mu);
  // Nothing can be watched before it opens again; Now() starts it over from the database then.
  if (forgotten->watches.empty()) {
    forgotten->forgotten = true;
    deployments_.erase(it);
  }
}

void ReadTracker::Observe(const std::string& deployment, const storage::PublishedCommit& commit) {
  std::shared_ptr<Deployment> d = FindOrCreate(deployment);
  std::vector<std::function<void()>> after;
  {
    absl::MutexLock lock(&d->mu);
    std::vector<std::pair<storage::IndexId, std::string>> keys;
    std::vector<WatchId> hit;
    for (const storage::PublishedCommit::Change& change : commit.changes) {
      for (const auto& written : change.keys) {
        const std::string& key = written.second;
        keys.push_back(written);
        auto by_index = d->indexes.find(written.first);
        if (by_index == d->indexes.end()) continue;
        IndexWatches& watches = by_index->second;
        auto visit = [&](absl::string_view prefix) {
          auto bucket = watches.find(prefix);
          if (bucket == watches.end()) return;
          // Every whole reader of a prefix of this key is hit: take them all at once.
          hit.insert(hit.end(), bucket->second.whole.begin(), bucket->second.whole.end());
          bucket->second.whole.clear();
          bucket->second.ranges.Stab(key, [&hit](uint64_t id) { hit.push_back(id); });
        };
        visit(absl::string_view());
        for (size_t end : storage::IndexKeyValueEnds(key)) visit(absl::string_view(key).substr(0, end));
      }
    }
    InvalidateLocked(*d, hit, commit.ts, &after);  // marked before processed() moves on
    // The first commit this state sees, if Now() never set it up: it knows nothing from before.
    if (d->processed.value() == 0 && d->log.empty()) d->log_floor = storage::Timestamp(commit.ts.value() - 1);
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
