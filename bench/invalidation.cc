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
// channel: the work that must remain. A second deployment in the same process, with no live results,
// is measured in windows alternating with the first (4 each, 2 s, medians): the ratio at each level
// is this machine's drift taken out.
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
#include "supervisor/reactivity/query_cache.h"
#include "supervisor/reactivity/read_tracker.h"

namespace isobar::bench {
namespace {

using storage::Value;

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
  LiveResults(supervisor::ReadTracker& tracker, supervisor::QueryCache& cache, storage::Database& db, Tables tables,
              std::string deployment)
      : tracker_(tracker), cache_(cache), db_(db), tables_(std::move(tables)), deployment_(std::move(deployment)) {}
  ~LiveResults() {
    for (supervisor::ReadTracker::WatchId id : watches_) tracker_.Unwatch(deployment_, id);
  }

  size_t live() const { return cached_ + watches_.size(); }

  void GrowTo(size_t target) {
    const storage::Timestamp at = tracker_.Now(deployment_, db_);
    while (live() < target) {
      std::shared_ptr<const storage::ReadSet> reads = ReadsOf(tables_, next_, rng_);
      if (next_ % 2 == 0) {
        supervisor::FunctionCallRequest request;
        request.deployment = deployment_;
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
            tracker_.Watch(deployment_, reads, at, [](storage::Timestamp) -> std::function<void()> { return nullptr; });
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
  const std::string deployment_;
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

// One deployment of the benchmark: its database, publishing to the shared tracker, and its table.
struct Bench {
  std::string name;
  std::unique_ptr<storage::Database> db;
  Tables tables;
  std::atomic<int64_t> observe_ns{0}, observed{0};  // time in ReadTracker::Observe, committer thread
};

absl::Status Open(storage::PgPool& pool, supervisor::ReadTracker& tracker, Bench& bench) {
  const storage::DeploymentId id = storage::testing::NewDeployment(pool);
  bench.db = std::make_unique<storage::Database>(pool, id);
  bench.db->committer().SetPublishHook([&tracker, &bench](const storage::PublishedCommit& commit) {
    const absl::Time begin = absl::Now();
    tracker.Observe(bench.name, commit);
    bench.observe_ns.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - begin), std::memory_order_relaxed);
    bench.observed.fetch_add(1, std::memory_order_relaxed);
  });
  if (absl::Status opened = bench.db->Open(); !opened.ok()) return opened;
  storage::Catalog& catalog = bench.db->catalog();
  absl::StatusOr<storage::TableInfo> table = catalog.GetOrCreateTable(id, "messages");
  if (!table.ok()) return table.status();
  if (absl::Status made = catalog.CreateIndex(id, table->number, "by_channel", {"channel"}, true).status(); !made.ok()) {
    return made;
  }
  bench.db->schemas().Invalidate(table->number);
  bench.tables.messages = *bench.db->schemas().ByName("messages", /*create=*/false);
  bench.tables.by_channel = bench.tables.messages->Find("by_channel");
  CommitRate(*bench.db, absl::Seconds(1));  // warm-up: connections, the table's first pages
  return absl::OkStatus();
}

int Main() {
  storage::testing::TestPostgres& postgres = storage::testing::SharedPostgres();
  storage::PgPool pool(postgres.conninfo(), 8);
  supervisor::ReadTracker tracker;
  // Two deployments in one process: "hot" gets the live results, "cold" none. Their commit rates,
  // measured in alternating windows, give the ratio at each level without this machine's drift.
  Bench hot, cold;
  hot.name = "hot";
  cold.name = "cold";
  for (Bench* bench : {&hot, &cold}) {
    if (absl::Status opened = Open(pool, tracker, *bench); !opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.ToString().c_str());
      return 1;
    }
  }
  supervisor::QueryCacheOptions cache_options;
  cache_options.max_bytes = size_t{8} << 30;  // hold every result: this measures invalidation, not eviction
  supervisor::QueryCache cache(tracker, cache_options);

  const absl::Duration window = absl::Seconds(2);
  constexpr int kRounds = 4;
  struct Level {
    size_t live;
    double hot, cold, observe_us;
  };
  std::vector<Level> levels;
  {
    LiveResults live(tracker, cache, *hot.db, hot.tables, hot.name);
    for (size_t level : {size_t{0}, size_t{10000}, size_t{100000}, size_t{1000000}}) {
      const absl::Time grown = absl::Now();
      live.GrowTo(level);
      std::printf("%zu live results (%zu in the tracker; made in %.1f s): ", level, tracker.watched(),
                  absl::ToDoubleSeconds(absl::Now() - grown));
      std::fflush(stdout);
      hot.observe_ns = 0;
      hot.observed = 0;
      std::vector<double> hot_rates, cold_rates;
      for (int round = 0; round < kRounds; ++round) {
        // Alternating which goes first, so neither always follows the other.
        for (Bench* bench : round % 2 == 0 ? std::vector<Bench*>{&hot, &cold} : std::vector<Bench*>{&cold, &hot}) {
          (bench == &hot ? hot_rates : cold_rates).push_back(CommitRate(*bench->db, window));
        }
      }
      Level measured{level, Median(hot_rates), Median(cold_rates),
                     static_cast<double>(hot.observe_ns.load()) / 1e3 /
                         static_cast<double>(std::max<int64_t>(1, hot.observed.load()))};
      levels.push_back(measured);
      std::printf("%.0f commits/s (with none: %.0f, ratio %.2f), %.1f us in ReadTracker::Observe per commit\n",
                  measured.hot, measured.cold, measured.hot / measured.cold, measured.observe_us);
    }
  }
  {
    // The results released: does the machine give back the rate it had with none (drift, or the
    // process's heap)?
    std::vector<double> after;
    for (int round = 0; round < kRounds; ++round) after.push_back(CommitRate(*cold.db, window));
    std::printf("after releasing them: %.0f commits/s\n", Median(after));
  }
  std::string by_level, ratios, observe_by_level;
  double worst = 1e9;
  for (size_t i = 0; i < levels.size(); ++i) {
    const Level& l = levels[i];
    const char* comma = i == 0 ? "" : ",";
    absl::StrAppend(&by_level, comma, "\"", l.live, "\":{\"with\":", Num(l.hot), ",\"without\":", Num(l.cold), "}");
    absl::StrAppend(&ratios, comma, "\"", l.live, "\":", Num(l.hot / l.cold));
    absl::StrAppend(&observe_by_level, comma, "\"", l.live, "\":", Num(l.observe_us));
    worst = std::min(worst, l.hot / l.cold);
  }
  std::printf(
      "{\"bench\":\"invalidation\",\"committers\":%d,\"commits_per_s\":{%s},\"ratio_by_level\":{%s},"
      "\"observe_us_per_commit\":{%s},\"floor\":{\"commits_per_s_without_live_results\":%s},\"ratio\":%s}\n",
      kThreads, by_level.c_str(), ratios.c_str(), observe_by_level.c_str(), Num(levels.back().cold).c_str(),
      Num(worst).c_str());
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
