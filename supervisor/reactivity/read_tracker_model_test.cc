// The read tracker against brute force, with replayable seeds: random watches whose read sets have
// every shape the query engine gives (a whole key, an Eq prefix, a range under an Eq prefix, ranges
// from the start of an index or of nothing in particular), on real key encodings, random commits,
// unwatches, late watches and pushes. After each commit, exactly the watches whose read sets hold a
// written key must have been told, with that commit's timestamp.
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/index_key.h"
#include "supervisor/reactivity/read_tracker.h"

namespace isobar::supervisor {
namespace {

using storage::IndexId;
using storage::Timestamp;
using storage::Value;

constexpr IndexId kIndexes[] = {IndexId(3), IndexId(4)};

// A value of field `f` of a three-field index key (a small domain, so that keys collide).
Value FieldValue(std::mt19937_64& rng, int f) {
  switch (f) {
    case 0: {
      // Strings that are byte prefixes of each other's encodings ("a" and "a\0").
      static const char* const kStrings[] = {"a", "a\0", "a\0b", "b"};
      const int which = static_cast<int>(rng() % 4);
      return Value::String(std::string(kStrings[which], which == 0 || which == 3 ? 1 : which + 1));
    }
    case 1: return Value::Float64(static_cast<double>(rng() % 3));
    default: return Value::String(std::string(1, "xy"[rng() % 2]));
  }
}

std::string Key(std::mt19937_64& rng, int fields = 3) {
  std::vector<Value> values;
  for (int f = 0; f < fields; ++f) values.push_back(FieldValue(rng, f));
  return storage::EncodeIndexKey(values);
}

storage::KeyRange RandomRange(std::mt19937_64& rng) {
  const int eq = static_cast<int>(rng() % 3);  // Eq fields
  const std::string prefix = Key(rng, eq);
  switch (rng() % 6) {
    case 0: {  // a point: db.get
      const std::string key = Key(rng);
      return {key, key + std::string(1, '\0')};
    }
    case 1:  // an Eq prefix
      return {prefix, storage::WholeValuesEnd(prefix)};
    case 2: {  // bounds on the field after the Eq prefix, as CompileRange makes them
      std::string lower = prefix + storage::EncodeIndexKey({FieldValue(rng, eq)});
      std::string upper = prefix + storage::EncodeIndexKey({FieldValue(rng, eq)});
      if (rng() % 2) lower = storage::WholeValuesEnd(lower);  // gt
      if (rng() % 2) upper = storage::WholeValuesEnd(upper);  // lte
      return {rng() % 3 == 0 ? prefix : lower, rng() % 3 == 0 ? storage::WholeValuesEnd(prefix) : upper};
    }
    case 3: {  // the consumed part of a take: from the prefix up to just past a key in it
      std::string last = prefix + Key(rng, 3 - eq);
      return {prefix, last + std::string(1, '\0')};
    }
    case 4:  // everything from a key on
      return {Key(rng), std::nullopt};
    default:  // any two keys
      return {Key(rng, static_cast<int>(rng() % 4)), Key(rng, static_cast<int>(rng() % 4))};
  }
}

void RunSeed(uint64_t seed, int steps) {
  SCOPED_TRACE(absl::StrCat("replay: ISOBAR_SEED=", seed));
  std::mt19937_64 rng(seed);
  ReadTracker tracker(/*log_commits=*/8);
  struct Live {
    std::shared_ptr<storage::ReadSet> reads;
    ReadTracker::WatchId id;
  };
  std::map<int, Live> live;            // by our own number
  std::map<int, Timestamp> told;       // our number -> invalid_at, as the tracker said
  int next = 0;
  int64_t ts = 1;
  std::vector<storage::PublishedCommit> history;
  auto watch = [&](Timestamp at) {
    const int number = next++;
    auto reads = std::make_shared<storage::ReadSet>();
    for (int r = 1 + static_cast<int>(rng() % 3); r > 0; --r) {
      ASSERT_TRUE(reads->Add(kIndexes[rng() % 2], RandomRange(rng)).ok());
    }
    ReadTracker::WatchId id = tracker.Watch("d", reads, at, [&told, number](Timestamp when) -> std::function<void()> {
      EXPECT_EQ(told.count(number), 0u) << "told twice";
      told[number] = when;
      return nullptr;
    });
    if (id != 0) live[number] = Live{reads, id};
    // Computed at `at`: stale exactly when a commit after `at` overlaps it (the log reaches back 8).
    bool stale = false;
    for (const storage::PublishedCommit& commit : history) {
      if (commit.ts <= at) continue;
      for (const auto& change : commit.changes) {
        for (const auto& [index, key] : change.keys) stale = stale || reads->Contains(index, key);
      }
    }
    EXPECT_EQ(id == 0, stale) << "a watch computed at " << at << " (now " << ts << ")";
  };
  for (int step = 0; step < steps; ++step) {
    const int action = static_cast<int>(rng() % 10);
    if (action < 5) {
      watch(Timestamp(ts));
    } else if (action < 6 && !live.empty()) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      tracker.Unwatch("d", it->second.id);
      live.erase(it);
    } else if (action < 9) {
      storage::PublishedCommit commit;
      commit.ts = Timestamp(++ts);
      for (int c = 1 + static_cast<int>(rng() % 3); c > 0; --c) {
        commit.changes.push_back({storage::DocumentId{}, "t", {{kIndexes[rng() % 2], Key(rng)}}});
      }
      std::set<int> expected;
      for (const auto& [number, w] : live) {
        for (const auto& change : commit.changes) {
          for (const auto& [index, key] : change.keys) {
            if (w.reads->Contains(index, key)) expected.insert(number);
          }
        }
      }
      told.clear();
      tracker.Observe("d", commit);
      history.push_back(commit);
      std::set<int> got;
      for (const auto& [number, when] : told) {
        got.insert(number);
        EXPECT_EQ(when, commit.ts);
      }
      ASSERT_EQ(got, expected) << "step " << step;
      for (int number : got) live.erase(number);
    } else {
      // A late watch: computed a few commits ago, checked against the recent log.
      const int64_t back = static_cast<int64_t>(rng() % 4);
      watch(Timestamp(std::max<int64_t>(1, ts - back)));
    }
    ASSERT_EQ(tracker.watched(), live.size()) << "step " << step;
  }
}

TEST(ReadTrackerModelTest, TellsExactlyTheWatchesACommitOverlaps) {
  if (const char* seed = std::getenv("ISOBAR_SEED"); seed != nullptr) {
    RunSeed(std::strtoull(seed, nullptr, 10), 20000);
    return;
  }
  for (uint64_t seed = 1; seed <= 30; ++seed) RunSeed(seed, 3000);
}

}  // namespace
}  // namespace isobar::supervisor
