#include "supervisor/runner/prefetch.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {
namespace {

using ::testing::ElementsAre;

storage::Value Args(const std::string& json) { return *storage::ParseConvexJson(json); }

TEST(PrefetcherTest, CandidatesAreTopLevelStringsOfAnIdsLength) {
  EXPECT_THAT(Prefetcher::Candidates(Args(R"({"id":"jd7f8g9h0j1k2l3m4n5p6q7r8s9t0v1w","n":1,"short":"abc",)"
                                          R"("nested":{"id":"jd7f8g9h0j1k2l3m4n5p6q7r8s9t0v1x"}})")),
              ElementsAre("jd7f8g9h0j1k2l3m4n5p6q7r8s9t0v1w"));
  // At most kMaxPerCall, in the arguments' order (by name).
  EXPECT_EQ(Prefetcher::Candidates(Args(R"({"a":"aaaaaaaaaaaaaaaaaaaa","b":"bbbbbbbbbbbbbbbbbbbb","c":"cccccccccccccccccccc",)"
                                        R"("d":"dddddddddddddddddddd","e":"eeeeeeeeeeeeeeeeeeee"})"))
                .size(),
            Prefetcher::kMaxPerCall);
  EXPECT_TRUE(Prefetcher::Candidates(Args(R"([1,2])")).empty());
}

TEST(PrefetcherTest, AFunctionThatDoesNotReadItsDocumentsStopsGettingThemAndIsTriedAgainNowAndThen) {
  Prefetcher prefetcher;
  // Tried first: 16 calls get reads ahead whatever they do with them.
  for (int call = 0; call < 16; ++call) {
    ASSERT_TRUE(prefetcher.Wanted("f")) << call;
    prefetcher.Record("f", /*used=*/false);
  }
  // Never used: skipped, but one call in 64 tries again.
  int wanted = 0;
  for (int call = 0; call < 128; ++call) wanted += prefetcher.Wanted("f");
  EXPECT_EQ(wanted, 2);
  // Another function is tried on its own.
  EXPECT_TRUE(prefetcher.Wanted("g"));
  // Used again by a quarter of its calls: wanted every time.
  for (int call = 0; call < 6; ++call) prefetcher.Record("f", /*used=*/true);
  for (int call = 0; call < 10; ++call) EXPECT_TRUE(prefetcher.Wanted("f")) << call;
}

TEST(PrefetcherTest, WhatAFunctionDoesNowOutweighsItsPast) {
  Prefetcher prefetcher;
  // A long history of using its documents, then it stops: within about its window it stops getting them.
  for (int call = 0; call < 100000; ++call) prefetcher.Record("f", /*used=*/true);
  int calls = 0;
  while (prefetcher.Wanted("f") && calls < 5000) {
    prefetcher.Record("f", /*used=*/false);
    ++calls;
  }
  EXPECT_LT(calls, 2 * 1024) << "calls before it stopped getting reads ahead";
}

TEST(PrefetcherTest, AFullTableForgetsOneFunctionNotAll) {
  Prefetcher prefetcher;
  constexpr int kFunctions = 4096;  // the table's bound
  // Functions that never use their reads ahead: remembered, they do not get them.
  for (int f = 0; f < kFunctions; ++f) {
    for (int call = 0; call < 16; ++call) prefetcher.Record("f" + std::to_string(f), /*used=*/false);
  }
  // One more function (another tenant's, say) makes room for itself by forgetting one, not all.
  prefetcher.Record("new", /*used=*/true);
  int remembered = 0;
  for (int f = 0; f < kFunctions; ++f) remembered += prefetcher.Wanted("f" + std::to_string(f)) ? 0 : 1;
  EXPECT_EQ(remembered, kFunctions - 1);
}

}  // namespace
}  // namespace isobar::supervisor
