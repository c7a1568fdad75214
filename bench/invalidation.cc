// bench/invalidation: does a commit's cost grow with the number of live query results? (issue 14,
// item 6; PERFORMANCE.md M2: flat within 10% from 0 to 1M.)
//
// Durable one-insert commits from 16 concurrent committers, through the real committer on the embedded
// PostgreSQL, each published to the real ReadTracker as the supervisor does (before the commit is
// acknowledged), with 0, 10k, 100k and 1M live results: half cached in the real QueryCache, half
// watched as subscriptions do. Their read sets have the shapes real queries give: a db.get (a point
// on by_id), an Eq range (withIndex("by_channel", q => q.eq("channel", c)), one of 1M channels), a
// take(10) over a table (a range at its start, which every later key lies past), and a bounded range
// (a channel's messages since a time: q.eq("channel", c).gt("_creationTime", t)). Every commit writes
// a by_id, a by_creation_time and a by_channel key, so it also invalidates the results of its
// channel: the work that must remain. Each level is measured in 3 windows; medians are reported.
// Last line: {"bench":"invalidation", ...}. Run: bazel run -c opt //bench:invalidation
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/harness.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/document.h"
#include "storage/index_key.h"
#include "storage/pg_testing.h"
#include "supervisor/query_cache.h"
#include "supervisor/read_tracker.h"

namespace isobar::bench {
namespace {

using storage::Value;

constexpr char kDeployment[] = "bench";
constexpr int kChannels = 1000000;
constexpr int kThreads = 16;

struct Tables {
  std::shared_ptr<const storage::TableSchema> messages;
  const storage::IndexInfo* by_channel = nullptr;
};

std::string ChannelName(int c) { return absl::StrCat("channel-", c); }

// The read set of live result number `n`, shaped like one of three kinds of query.
std::shared_ptr<const storage::ReadSet> ReadsOf(const Tables& tables, uint64_t n, std::mt19937_64& rng) {
  auto reads = std::make_shared<storage::ReadSet>();
  switch (n % 4) {
    case 0: {  // db.get of a document
      storage::DocumentId id{tables.messages->table.number, {}};
      for (uint8_t& b : id.internal) b = static_cast<uint8_t>(rng());
      const std::string key = storage::ByIdKey(id);
      (void)reads->Add(tables.messages->by_id().id, {key, key + std::string(1, '\0')});
      break;
    }
    case 1: {  // the messages of one channel
      const std::string prefix =
          storage::EncodeIndexKey({Value::String(ChannelName(static_cast<int>(rng() % kChannels)))});
      (void)reads->Add(tables.by_channel->id, {prefix, storage::WholeValuesEnd(prefix)});
      break;
    }
    case 2: {  // the first ten messages: a range at the table's start
      const std::string end = storage::EncodeIndexKey({Value::Float64(1e9 + static_cast<double>(rng() % 1000000))});
      (void)reads->Add(tables.messages->by_creation_time().id, {"", end});
      break;
    }
    default: {  // a channel's messages since a time: a bounded range, not a prefix
      const std::string prefix =
          storage::EncodeIndexKey({Value::String(ChannelName(static_cast<int>(rng() % kChannels)))});
      const std::string since = prefix + storage::EncodeIndexKey({Value::Float64(1e12)});
      (void)reads->Add(tables.by_channel->id, {since, storage::WholeValuesEnd(prefix)});
    }
  }
  return reads;
}

// Live results: cached ones (held by the cache) and subscriptions (held here).
class LiveResults {
 public:
  LiveResults(supervisor::ReadTracker& tracker, supervisor::QueryCache& cache, storage::Database& db, Tables tables)
      : tracker_(tracker), cache_(cache), db_(db), tables_(std::move(tables)) {}
  ~LiveResults() {
    for (supervisor::ReadTracker::WatchId id : watches_) tracker_.Unwatch(kDeployment, id);
  }

  size_t live() const { return cached_ + watches_.size(); }

  void GrowTo(size_t target) {
    const storage::Timestamp at = tracker_.Now(kDeployment, db_);
    while (live() < target) {
      std::shared_ptr<const storage::ReadSet> reads = ReadsOf(tables_, next_, rng_);
      if (next_ % 2 == 0) {
        supervisor::FunctionCallRequest request;
        request.deployment = kDeployment;
        request.path = "messages:list";
        request.args_json = absl::StrCat(R"({"n":)", next_, "}");
        cache_.Evaluate(
            std::move(request), /*version=*/1, at,
            [reads, at](supervisor::FunctionCallRequest, supervisor::FunctionCallback done) {
              supervisor::FunctionOutcome outcome;
              outcome.ok = true;
              outcome.result_json = "[]";
              outcome.reads = reads;
              outcome.snapshot_ts = at;
              outcome.code_version = 1;
              std::move(done)(std::move(outcome));
            },
            [](std::shared_ptr<supervisor::QueryResult>) {});
        ++cached_;
      } else {
        supervisor::ReadTracker::WatchId id =
            tracker_.Watch(kDeployment, reads, at, [](storage::Timestamp) -> std::function<void()> { return nullptr; });
        if (id != 0) watches_.push_back(id);
      }
      ++next_;
    }
  }

 private:
  supervisor::ReadTracker& tracker_;
  supervisor::QueryCache& cache_;
  storage::Database& db_;
  const Tables tables_;
  std::mt19937_64 rng_{14};
  uint64_t next_ = 0;
  size_t cached_ = 0;
  std::vector<supervisor::ReadTracker::WatchId> watches_;
};

// Commits per second, 16 committers inserting one message each into a random channel.
double CommitRate(storage::Database& db, absl::Duration window) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0};
  std::vector<std::thread> committers;
  const absl::Time start = absl::Now();
  for (int t = 0; t < kThreads; ++t) {
    committers.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + static_cast<uint64_t>(absl::ToUnixNanos(start)));
      while (!stop.load(std::memory_order_relaxed)) {
        std::unique_ptr<storage::Transaction> txn = db.Begin();
        const Value fields = Value::MakeSortedObject(
            {{"body", Value::String("hello")}, {"channel", Value::String(ChannelName(static_cast<int>(rng() % kChannels)))}});
        if (!txn->Insert("messages", fields).ok() || !db.Commit(*txn).ok()) {
          std::fprintf(stderr, "commit failed\n");
          std::exit(1);
        }
        commits.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(absl::ToChronoMicroseconds(window));  // the measurement window
  stop = true;
  for (std::thread& t : committers) t.join();
  return static_cast<double>(commits.load()) / absl::ToDoubleSeconds(absl::Now() - start);
}

double MedianRate(storage::Database& db, int windows, absl::Duration window) {
  std::vector<double> rates;
  for (int i = 0; i < windows; ++i) rates.push_back(CommitRate(db, window));
  return Median(std::move(rates));
}

int Main() {
  storage::testing::TestPostgres& postgres = storage::testing::SharedPostgres();
  storage::PgPool pool(postgres.conninfo(), 8);
  const storage::DeploymentId deployment = storage::testing::NewDeployment(pool);
  storage::Database db(pool, deployment);
  supervisor::ReadTracker tracker;
  // Time spent publishing to the tracker, on the committer's thread (the commit path's share).
  std::atomic<int64_t> observe_ns{0}, observed{0};
  db.committer().SetPublishHook([&](const storage::PublishedCommit& commit) {
    const absl::Time begin = absl::Now();
    tracker.Observe(kDeployment, commit);
    observe_ns.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - begin), std::memory_order_relaxed);
    observed.fetch_add(1, std::memory_order_relaxed);
  });
  if (!db.Open().ok()) return 1;
  storage::Catalog& catalog = db.catalog();
  absl::StatusOr<storage::TableInfo> table = catalog.GetOrCreateTable(deployment, "messages");
  if (!table.ok() || !catalog.CreateIndex(deployment, table->number, "by_channel", {"channel"}, true).ok()) return 1;
  db.schemas().Invalidate(table->number);
  Tables tables;
  tables.messages = *db.schemas().ByName("messages", /*create=*/false);
  tables.by_channel = tables.messages->Find("by_channel");
  supervisor::QueryCacheOptions cache_options;
  cache_options.max_bytes = size_t{8} << 30;  // hold every result: this measures invalidation, not eviction
  supervisor::QueryCache cache(tracker, cache_options);
  CommitRate(db, absl::Seconds(1));  // warm-up: connections, the table's first pages

  const absl::Duration window = absl::Seconds(3);
  std::vector<std::pair<size_t, double>> rates;
  std::vector<double> observe_us;
  {
    LiveResults live(tracker, cache, db, tables);
    for (size_t level : {size_t{0}, size_t{10000}, size_t{100000}, size_t{1000000}}) {
      const absl::Time grown = absl::Now();
      live.GrowTo(level);
      std::printf("%zu live results (%zu in the tracker; made in %.1f s): ", level, tracker.watched(),
                  absl::ToDoubleSeconds(absl::Now() - grown));
      std::fflush(stdout);
      observe_ns = 0;
      observed = 0;
      rates.emplace_back(level, MedianRate(db, 3, window));
      observe_us.push_back(static_cast<double>(observe_ns.load()) / 1e3 / static_cast<double>(std::max<int64_t>(1, observed.load())));
      std::printf("%.0f commits/s, %.1f us in ReadTracker::Observe per commit\n", rates.back().second, observe_us.back());
    }
  }
  const double base = rates.front().second;
  std::string by_level, observe_by_level;
  for (size_t i = 0; i < rates.size(); ++i) {
    absl::StrAppend(&by_level, i == 0 ? "" : ",", "\"", rates[i].first, "\":", Num(rates[i].second));
    absl::StrAppend(&observe_by_level, i == 0 ? "" : ",", "\"", rates[i].first, "\":", Num(observe_us[i]));
  }
  const double worst = std::min_element(rates.begin(), rates.end(), [](const auto& a, const auto& b) {
                         return a.second < b.second;
                       })->second;
  std::printf(
      "{\"bench\":\"invalidation\",\"committers\":%d,\"commits_per_s\":{%s},\"observe_us_per_commit\":{%s},"
      "\"floor\":{\"commits_per_s_with_0_live\":%s},\"ratio_1m_vs_0\":%s,\"ratio\":%s}\n",
      kThreads, by_level.c_str(), observe_by_level.c_str(), Num(base).c_str(), Num(rates.back().second / base).c_str(),
      Num(worst / base).c_str());
  return 0;
}

}  // namespace
}  // namespace isobar::bench

int main() {
  // As the supervisor does: Debian's Abseil otherwise tracks the lock order of every Mutex ever
  // made (a million results make a million), which is for tests.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return isobar::bench::Main();
}
