#include "supervisor/reactivity/query_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {

namespace {

constexpr size_t kFanOutBatch = 128;

// Calls every function of `all`: on this thread when they are few, else in batches on `executor`.
void CallAll(std::vector<std::function<void()>> all, Executor* executor) {
  if (executor == nullptr || all.size() <= kFanOutBatch) {
    for (const auto& f : all) f();
    return;
  }
  for (size_t begin = 0; begin < all.size(); begin += kFanOutBatch) {
    const size_t end = std::min(all.size(), begin + kFanOutBatch);
    std::vector<std::function<void()>> batch(std::make_move_iterator(all.begin() + begin),
                                             std::make_move_iterator(all.begin() + end));
    executor->Run([batch = std::move(batch)] {
      for (const auto& f : batch) f();
    });
  }
}

}  // namespace

QueryResult::QueryResult(std::string deployment, FunctionOutcome outcome, ReadTracker& tracker, Executor* fan_out)
    : deployment_(std::move(deployment)),
      outcome_(std::move(outcome)),
      tracker_(tracker),
      fan_out_(fan_out),
      computed_at_(absl::Now()) {}

QueryResult::~QueryResult() {
  ReadTracker::WatchId watch;
  {
    absl::MutexLock lock(&mu_);
    watch = watch_;
  }
  tracker_.Unwatch(deployment_, watch);
}

const std::string& QueryResult::fingerprint() const {
  absl::call_once(fingerprint_once_, [this] {
    std::string text = outcome_.ok ? absl::StrCat("v", outcome_.result_json.size(), ":", outcome_.result_json)
                                   : absl::StrCat("e", outcome_.error.detail.SerializeAsString());
    for (const auto& line : outcome_.logs) absl::StrAppend(&text, "\n", line.level(), ":", line.message());
    fingerprint_ = Sha256(text);
  });
  return fingerprint_;
}

size_t QueryResult::bytes() const {
  size_t n = sizeof(*this) + outcome_.result_json.size() + outcome_.error.detail.ByteSizeLong();
  for (const auto& line : outcome_.logs) n += line.ByteSizeLong();
  if (outcome_.reads != nullptr) n += outcome_.reads->intervals() * 64;
  return n;
}

bool QueryResult::ValidAt(storage::Timestamp at) const {
  absl::MutexLock lock(&mu_);
  return ts() <= at && (!invalid_at_.has_value() || at < *invalid_at_);
}

bool QueryResult::invalidated() const {
  absl::MutexLock lock(&mu_);
  return invalid_at_.has_value();
}

bool QueryResult::Listen(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  if (invalid_at_.has_value()) return false;
  listeners_.push_back(std::move(listener));
  return true;
}

void QueryResult::StartWatching(const std::shared_ptr<QueryResult>& self) {
  if (outcome_.reads == nullptr && outcome_.error.detail.retryable()) {
    // It never ran (refused, a worker died): it holds for no timestamp; a retry may do better.
    for (auto& listener : MarkInvalid(ts())) listener();
    return;
  }
  // Failed before reading anything (no such function, bad arguments): holds until the code changes.
  static const auto* const kNothingRead = new std::shared_ptr<const storage::ReadSet>(std::make_shared<storage::ReadSet>());
  std::weak_ptr<QueryResult> weak = self;
  const ReadTracker::WatchId id = tracker_.Watch(
      deployment_, outcome_.reads != nullptr ? outcome_.reads : *kNothingRead, ts(),
      [weak](storage::Timestamp at) -> std::function<void()> {
        std::shared_ptr<QueryResult> result = weak.lock();
        if (result == nullptr) return nullptr;
        // `result` travels with the closure: if it is the last reference, the result (which
        // unwatches itself) goes after the tracker's lock is released, not under it.
        return [listeners = result->MarkInvalid(at), executor = result->fan_out_, result]() mutable {
          CallAll(std::move(listeners), executor);  // not on the committer's thread when they are many
        };
      });
  absl::MutexLock lock(&mu_);
  watch_ = id;
}

std::vector<std::function<void()>> QueryResult::MarkInvalid(storage::Timestamp at) {
  std::vector<std::function<void()>> listeners;
  absl::MutexLock lock(&mu_);
  if (invalid_at_.has_value()) return listeners;
  invalid_at_ = at;
  watch_ = 0;  // the tracker forgot it
  listeners.swap(listeners_);
  return listeners;
}

std::shared_ptr<QueryResult> QueryCache::Find(const Key& key, storage::Timestamp at) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return nullptr;
  const std::shared_ptr<QueryResult>& result = it->second.result;
  if (!result->ValidAt(at)) return nullptr;
  if (result->outcome().observed_time && absl::Now() - result->computed_at() > options_.max_age) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return result;
}

void QueryCache::Store(const Key& key, std::shared_ptr<QueryResult> result,
                       std::vector<std::shared_ptr<QueryResult>>* dropped) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    // A newer evaluation replaces the older one.
    bytes_ -= it->second.result->bytes();
    lru_.erase(it->second.lru);
    dropped->push_back(std::move(it->second.result));
    entries_.erase(it);
  }
  lru_.push_front(key);
  bytes_ += result->bytes();
  entries_.emplace(key, Entry{std::move(result), lru_.begin()});
  while (bytes_ > options_.max_bytes && !lru_.empty()) {
    auto victim = entries_.find(lru_.back());
    bytes_ -= victim->second.result->bytes();
    dropped->push_back(std::move(victim->second.result));
    entries_.erase(victim);
    lru_.pop_back();
    ++stats_.evictions;
  }
}

void QueryCache::Erase(const Key& key, const QueryResult* result) {
  std::shared_ptr<QueryResult> dropped;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.result.get() != result) return;
  bytes_ -= result->bytes();
  lru_.erase(it->second.lru);
  dropped = std::move(it->second.result);
  entries_.erase(it);
}

void QueryCache::Evaluate(FunctionCallRequest request, int64_t version, storage::Timestamp at, const Run& run,
                          Done done) {
  absl::StatusOr<storage::Value> args = storage::ParseConvexJson(request.args_json.empty() ? "{}" : request.args_json);
  const std::string canonical = args.ok() ? storage::ToConvexJson(*args) : request.args_json;
  // A result computed with access to internal functions is never served to a caller without it
  // (nor shared with one in flight): the access is part of the key.
  // So is the journal, which decides where a paginated query's page ends.
  const std::string path = absl::StrCat(request.allow_internal ? "internal " : "public ", request.path,
                                        request.journal.empty() ? "" : "\njournal ", request.journal);
  const Key shared{request.deployment, version, path, canonical, ""};
  const Key personal{request.deployment, version, path, canonical, request.identity_json};
  std::shared_ptr<QueryResult> hit;
  {
    absl::MutexLock lock(&mu_);
    hit = Find(shared, at);
    if (hit == nullptr) hit = Find(personal, at);
    if (hit != nullptr) {
      ++stats_.hits;
    } else {
      auto [flight, first] = in_flight_.try_emplace(std::make_pair(personal, at));
      flight->second.waiting.push_back(std::move(done));
      if (!first) {
        ++stats_.shared;
        return;
      }
      ++stats_.misses;
    }
  }
  if (hit != nullptr) {
    done(std::move(hit));
    return;
  }
  request.snapshot_ts = at;
  const std::string deployment = request.deployment;
  run(std::move(request), [this, deployment, personal, shared, at](FunctionOutcome outcome) {
    const bool cacheable = outcome.ok && outcome.reads != nullptr;
    const Key key = outcome.identity_read ? personal : shared;
    const Key stored{std::get<0>(key), outcome.code_version, std::get<2>(key), std::get<3>(key), std::get<4>(key)};
    auto result = std::make_shared<QueryResult>(deployment, std::move(outcome), tracker_, options_.fan_out);
    result->StartWatching(result);
    std::vector<Done> waiting;
    std::vector<std::shared_ptr<QueryResult>> dropped;  // released outside the lock (they unwatch)
    {
      absl::MutexLock lock(&mu_);
      auto flight = in_flight_.find(std::make_pair(personal, at));
      if (flight != in_flight_.end()) {
        waiting = std::move(flight->second.waiting);
        in_flight_.erase(flight);
      }
      if (cacheable && !result->invalidated()) Store(stored, result, &dropped);
    }
    if (cacheable) {
      const QueryResult* raw = result.get();
      if (!result->Listen([this, stored, raw] { Erase(stored, raw); })) Erase(stored, raw);
    }
    std::vector<std::function<void()>> calls;
    calls.reserve(waiting.size());
    for (Done& d : waiting) calls.push_back([d = std::move(d), result] { d(result); });
    CallAll(std::move(calls), options_.fan_out);
  });
}

QueryCache::Stats QueryCache::stats() const {
  absl::MutexLock lock(&mu_);
  Stats s = stats_;
  s.entries = entries_.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace isobar::supervisor
