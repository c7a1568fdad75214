// The read tracker and the query cache with hand-made read sets and commits (no database).
#include "supervisor/reactivity/read_tracker.h"

#include <vector>

#include "gtest/gtest.h"
#include "supervisor/reactivity/query_cache.h"

namespace isobar::supervisor {
namespace {

using storage::IndexId;
using storage::Timestamp;

constexpr IndexId kIndex(7);

std::shared_ptr<const storage::ReadSet> Reads(const std::string& start, std::optional<std::string> end) {
  auto reads = std::make_shared<storage::ReadSet>();
  EXPECT_TRUE(reads->Add(kIndex, storage::KeyRange{start, std::move(end)}).ok());
  return reads;
}

storage::PublishedCommit Commit(int64_t ts, const std::string& key) {
  storage::PublishedCommit commit;
  commit.ts = Timestamp(ts);
  commit.changes.push_back({storage::DocumentId{}, "t", {{kIndex, key}}});
  return commit;
}

TEST(ReadTrackerTest, ACommitInvalidatesTheResultsWhoseIntervalsHoldAKeyItWrote) {
  ReadTracker tracker;
  std::vector<std::string> invalid;
  auto record = [&](std::string name) {
    return [&invalid, name](Timestamp) -> std::function<void()> {
      invalid.push_back(name);
      return nullptr;
    };
  };
  tracker.Watch("d", Reads("b", "d"), Timestamp(1), record("b..d"));
  tracker.Watch("d", Reads("a", std::nullopt), Timestamp(1), record("a.."));
  tracker.Watch("d", Reads("x", "y"), Timestamp(1), record("x..y"));
  tracker.Watch("other", Reads("a", std::nullopt), Timestamp(1), record("other deployment"));
  tracker.Observe("d", Commit(2, "d"));  // end is exclusive
  EXPECT_EQ(invalid, (std::vector<std::string>{"a.."}));
  tracker.Observe("d", Commit(3, "c"));
  EXPECT_EQ(invalid, (std::vector<std::string>{"a..", "b..d"}));
  tracker.Observe("d", Commit(4, "c"));  // told once: forgotten after
  EXPECT_EQ(invalid.size(), 2u);
  EXPECT_EQ(tracker.processed("d"), Timestamp(4));
  EXPECT_EQ(tracker.watched(), 2u);
}

TEST(ReadTrackerTest, ANewCodeVersionInvalidatesEveryResultOfItsDeployment) {
  ReadTracker tracker;
  int invalid = 0;
  auto count = [&](Timestamp) -> std::function<void()> {
    ++invalid;
    return nullptr;
  };
  tracker.Watch("d", Reads("a", "b"), Timestamp(1), count);
  tracker.Watch("d", std::make_shared<storage::ReadSet>(), Timestamp(1), count);  // read nothing
  tracker.Watch("e", Reads("a", "b"), Timestamp(1), count);
  tracker.InvalidateAll("d");
  EXPECT_EQ(invalid, 2);
  EXPECT_EQ(tracker.watched(), 1u);
}

TEST(ReadTrackerTest, AResultWatchedLateIsCheckedAgainstTheCommitsSinceItsTimestamp) {
  ReadTracker tracker(/*log_commits=*/2);
  tracker.Observe("d", Commit(10, "k"));
  tracker.Observe("d", Commit(20, "m"));
  std::optional<Timestamp> at;
  EXPECT_NE(tracker.Watch("d", Reads("k", "l"), Timestamp(15), [&](Timestamp t) -> std::function<void()> {
    at = t;
    return nullptr;
  }), 0u) << "10 is before 15";
  EXPECT_FALSE(at.has_value());
  EXPECT_EQ(tracker.Watch("d", Reads("m", "n"), Timestamp(15), [&](Timestamp t) -> std::function<void()> {
    at = t;
    return nullptr;
  }), 0u);
  EXPECT_EQ(at, Timestamp(20));
  tracker.Observe("d", Commit(30, "z"));  // the log keeps two commits: 10 falls out
  at.reset();
  EXPECT_EQ(tracker.Watch("d", Reads("q", "r"), Timestamp(5), [&](Timestamp t) -> std::function<void()> {
    at = t;
    return nullptr;
  }), 0u);
  EXPECT_EQ(at, Timestamp(30)) << "the log no longer reaches back to 5: stale";
}

TEST(QueryCacheTest, SharesExecutionsServesValidResultsAndNeverKeepsErrors) {
  ReadTracker tracker;
  QueryCache cache(tracker);
  int runs = 0;
  std::vector<FunctionCallback> pending;
  auto run = [&](FunctionCallRequest request, FunctionCallback done) {
    ++runs;
    EXPECT_EQ(request.snapshot_ts, Timestamp(5));
    pending.push_back(std::move(done));
  };
  auto outcome = [](bool ok) {
    FunctionOutcome o;
    o.ok = ok;
    o.result_json = "1";
    o.reads = Reads("a", "b");
    o.snapshot_ts = Timestamp(5);
    o.code_version = 1;
    return o;
  };
  FunctionCallRequest request;
  request.deployment = "d";
  request.path = "m:q";
  request.args_json = R"({"x": 1})";
  std::vector<std::shared_ptr<QueryResult>> got;
  auto keep = [&](std::shared_ptr<QueryResult> r) { got.push_back(std::move(r)); };
  cache.Evaluate(request, 1, Timestamp(5), run, keep);
  request.args_json = R"({"x":1})";  // the same arguments, spelled differently
  cache.Evaluate(request, 1, Timestamp(5), run, keep);
  ASSERT_EQ(runs, 1) << "identical concurrent requests share one execution";
  std::move(pending[0])(outcome(true));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], got[1]);
  // Later, with no overlapping commit: served without running.
  tracker.Observe("d", Commit(6, "z"));
  cache.Evaluate(request, 1, Timestamp(6), run, keep);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(cache.stats().hits, 1u);
  // A commit into its reads: never served again.
  bool told = false;
  ASSERT_TRUE(got[0]->Listen([&] { told = true; }));
  tracker.Observe("d", Commit(7, "a"));
  EXPECT_TRUE(told);
  EXPECT_FALSE(got[0]->ValidAt(Timestamp(7)));
  EXPECT_TRUE(got[0]->ValidAt(Timestamp(6)));
  EXPECT_EQ(cache.stats().entries, 0u);
  // Errors are not kept.
  cache.Evaluate(request, 1, Timestamp(5), run, keep);
  std::move(pending[1])(outcome(false));
  cache.Evaluate(request, 1, Timestamp(5), run, keep);
  EXPECT_EQ(runs, 3);
}

// A result an admin's call computed (internal functions allowed) must never answer a caller who may
// only call public functions, from the cache or by sharing an execution in flight.
TEST(QueryCacheTest, KeepsResultsOfInternalAccessFromPublicCallers) {
  ReadTracker tracker;
  QueryCache cache(tracker);
  std::vector<FunctionCallRequest> ran;
  std::vector<FunctionCallback> pending;
  auto run = [&](FunctionCallRequest request, FunctionCallback done) {
    ran.push_back(request);
    pending.push_back(std::move(done));
  };
  FunctionCallRequest request;
  request.deployment = "d";
  request.path = "m:internalQuery";
  request.args_json = "{}";
  request.allow_internal = true;
  std::vector<std::shared_ptr<QueryResult>> got;
  auto keep = [&](std::shared_ptr<QueryResult> r) { got.push_back(std::move(r)); };
  cache.Evaluate(request, 1, Timestamp(5), run, keep);
  request.allow_internal = false;
  cache.Evaluate(request, 1, Timestamp(5), run, keep);  // while the admin's is in flight
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_TRUE(ran[0].allow_internal);
  EXPECT_FALSE(ran[1].allow_internal);
  FunctionOutcome secret;
  secret.ok = true;
  secret.result_json = R"("secret")";
  secret.reads = Reads("a", "b");
  secret.snapshot_ts = Timestamp(5);
  secret.code_version = 1;
  std::move(pending[0])(secret);
  std::move(pending[1])(FunctionOutcome::Failure(absl::NotFoundError("Could not find public function")));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0]->outcome().ok);
  EXPECT_FALSE(got[1]->outcome().ok) << "a public caller shared an internal caller's execution";
  cache.Evaluate(request, 1, Timestamp(5), run, keep);  // the admin's result is cached now
  EXPECT_EQ(ran.size(), 3u) << "a public caller was answered from an internal caller's result";
}

TEST(QueryCacheTest, OnlyResultsThatReadTheClockExpire) {
  ReadTracker tracker;
  QueryCache cache(tracker, {.max_age = absl::ZeroDuration()});
  int runs = 0;
  bool reads_clock = false;
  auto run = [&](FunctionCallRequest, FunctionCallback done) {
    ++runs;
    FunctionOutcome o;
    o.ok = true;
    o.result_json = "1";
    o.reads = Reads("a", "b");
    o.snapshot_ts = Timestamp(5);
    o.code_version = 1;
    o.observed_time = reads_clock;
    std::move(done)(std::move(o));
  };
  FunctionCallRequest request;
  request.deployment = "d";
  request.path = "m:timeless";
  auto ignore = [](std::shared_ptr<QueryResult>) {};
  cache.Evaluate(request, 1, Timestamp(5), run, ignore);
  cache.Evaluate(request, 1, Timestamp(5), run, ignore);
  EXPECT_EQ(runs, 1) << "a result that did not read the clock does not age";
  request.path = "m:clock";
  reads_clock = true;
  cache.Evaluate(request, 1, Timestamp(5), run, ignore);
  cache.Evaluate(request, 1, Timestamp(5), run, ignore);
  EXPECT_EQ(runs, 3) << "one that read Date.now() expires (max_age 0 here)";
}

TEST(QueryCacheTest, LeastRecentlyUsedResultsGoBeyondTheBudget) {
  ReadTracker tracker;
  FunctionOutcome probe;
  probe.ok = true;
  probe.result_json = std::string(1000, 'x');
  probe.reads = Reads("a", "b");
  const size_t one = QueryResult("d", probe, tracker).bytes();
  QueryCache cache(tracker, {.max_bytes = 2 * one + one / 2});  // room for two
  int runs = 0;
  auto run = [&](FunctionCallRequest request, FunctionCallback done) {
    ++runs;
    FunctionOutcome o = probe;
    o.snapshot_ts = *request.snapshot_ts;
    o.code_version = 1;
    std::move(done)(std::move(o));
  };
  auto ask = [&](const std::string& path) {
    FunctionCallRequest request;
    request.deployment = "d";
    request.path = path;
    cache.Evaluate(request, 1, Timestamp(5), run, [](std::shared_ptr<QueryResult>) {});
  };
  ask("m:a");
  ask("m:b");
  ask("m:a");  // a is now the most recently used
  EXPECT_EQ(runs, 2);
  ask("m:c");  // evicts b
  EXPECT_EQ(cache.stats().evictions, 1u);
  EXPECT_EQ(cache.stats().entries, 2u);
  ask("m:a");
  EXPECT_EQ(runs, 3);
  ask("m:b");
  EXPECT_EQ(runs, 4);
}

}  // namespace
}  // namespace isobar::supervisor
