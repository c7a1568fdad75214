// The proof that cached results and subscriptions are never stale, and that concurrent mutations are
// serializable, run as a test (issue 14). A seeded generator drives tests/apps/model on a real
// supervisor through a random interleaving of writes (insert, patch, replace, delete, failed
// mutations, new tables, scheduled jobs, schema pushes) and queries (full scans, index ranges with
// every bound shape on user and built-in indexes, get, first, unique, take, for-await, pagination
// with cursors, count, a system table). Every query result is checked three ways at one timestamp:
// the cached answer (the same spec asked again) must equal a fresh, uncached evaluation (the same
// spec with a nonce), and both must equal what the model (tests/differential_model.h) says. After
// every write, every live subscription must come to show the model's value. Bursts of concurrent
// clients run read-then-write mutations whose every serial order keeps an invariant ("insert if
// absent" inserts once, counters lose no increment, write skew never overdraws).
//
// Replay a failure with the seed and step count it prints:
//   bazel test //tests:differential_test --test_env=ISOBAR_DIFF_SEED=<seed> --test_env=ISOBAR_DIFF_STEPS=<n>
// Longer runs by hand: ISOBAR_DIFF_STEPS=100000 and --test_timeout=3600 (any seed; 0 picks one).
#include <atomic>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/document_id.h"
#include "tests/differential_driver.h"
#include "tests/live_queries.h"

namespace isobar::testing {
namespace {

using storage::Value;

uint64_t EnvNumber(const char* name, uint64_t otherwise) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : otherwise;
}

// One run: `steps` sequential steps (each a write or a checked query) of one seed, with a burst of
// concurrent clients every `burst_every` steps.
void RunSeed(SupervisorProcess& supervisor, uint64_t seed, int steps, int burst_every) {
  const std::string replay = absl::StrCat("replay: --test_env=ISOBAR_DIFF_SEED=", seed,
                                          " --test_env=ISOBAR_DIFF_STEPS=", steps);
  SCOPED_TRACE(replay);
  Driver driver(supervisor, absl::StrCat("diff-", seed), seed);
  ASSERT_TRUE(driver.Start().ok()) << replay;
  LiveQueries live(driver.channel(), driver.key(), driver.deployment());
  std::map<uint32_t, Value> subscribed;  // query id -> spec
  uint32_t next_query_id = 1;
  auto subscribe = [&](const Value& spec) {
    const uint32_t id = next_query_id++;
    subscribed[id] = spec;
    ASSERT_TRUE(live.Add(id, "model:run", driver.ArgsOf(spec)));
  };
  for (int i = 0; i < 12; ++i) subscribe(driver.PoolSpec());

  int queries = 0, writes = 0, burst_ops = 0;
  for (int step = 1; step <= steps; ++step) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    if (step % burst_every == 0) {
      const int ops = driver.Burst();
      ASSERT_GT(ops, 0) << replay << " at step " << step;
      burst_ops += ops;
    }
    const uint32_t roll = driver.Roll(100);
    if (roll < 48) {
      ++queries;
      ASSERT_TRUE(driver.CheckQuery(driver.PoolSpec())) << replay << " at step " << step;
      continue;
    }
    ++writes;
    ASSERT_TRUE(driver.Write()) << replay << " at step " << step;
    // Every subscriber comes to show what the model says now (at most 15 s; at once in practice).
    const bool caught_up = live.WaitFor(
        [&](const LiveQueries::Values& values) {
          for (const auto& [id, spec] : subscribed) {
            auto it = values.find(id);
            if (it == values.end() || !driver.Matches(spec, it->second)) return false;
          }
          return true;
        },
        absl::Seconds(15));
    if (!caught_up) {
      const LiveQueries::Values values = live.values();
      for (const auto& [id, spec] : subscribed) {
        auto it = values.find(id);
        const std::string seen = it == values.end() ? "(nothing)" : it->second;
        EXPECT_TRUE(it != values.end() && driver.Matches(spec, seen))
            << "subscription " << id << " is stale: " << storage::ToConvexJson(spec) << "\n  shows:    " << seen
            << "\n  expected: " << driver.Expect(spec);
      }
      FAIL() << replay << " at step " << step << ": a subscription did not catch up";
    }
    if (driver.Roll(100) < 3) {
      // Replace a subscription: a new query joins a stream that has seen many commits.
      auto victim = subscribed.begin();
      std::advance(victim, static_cast<long>(driver.Roll(static_cast<uint32_t>(subscribed.size()))));
      ASSERT_TRUE(live.Remove(victim->first));
      subscribed.erase(victim);
      subscribe(driver.PoolSpec());
    }
  }
  EXPECT_EQ(live.problems(), "");
  std::printf("differential: seed %llu: %d steps (%d checked queries, %d writes), %d concurrent ops in bursts, "
              "%zu documents at the end\n",
              static_cast<unsigned long long>(seed), steps, queries, writes, burst_ops, driver.documents());
}

TEST(DifferentialTest, CachedAndSubscribedResultsEqualFreshOnesAndTheModel) {
  SupervisorProcess supervisor({.workers = 2, .enable_eval = false});
  ASSERT_TRUE(supervisor.Start().ok());
  const int steps = static_cast<int>(EnvNumber("ISOBAR_DIFF_STEPS", 10000));
  uint64_t seed = EnvNumber("ISOBAR_DIFF_SEED", 1);
  if (seed == 0) seed = std::random_device()();
  RunSeed(supervisor, seed, steps, static_cast<int>(EnvNumber("ISOBAR_DIFF_BURST_EVERY", 2500)));
}

}  // namespace
}  // namespace isobar::testing
