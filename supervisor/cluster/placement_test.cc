// Rendezvous placement: the same answer for the same members whatever their order, deployments
// spread across members, and a member's death moves only its own deployments.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "supervisor/cluster/placement.h"

namespace isobar::supervisor {
namespace {

std::vector<storage::SupervisorRecord> Members(std::vector<std::string> holders) {
  std::vector<storage::SupervisorRecord> members;
  for (std::string& holder : holders) members.push_back({std::move(holder), "127.0.0.1:1", ""});
  return members;
}

TEST(RankFirstTest, SpreadsDeploymentsAndMovesOnlyADeadMembersOnes) {
  const std::vector<storage::SupervisorRecord> three = Members({"host-a", "host-b", "host-c"});
  const std::vector<storage::SupervisorRecord> reversed = Members({"host-c", "host-b", "host-a"});
  const std::vector<storage::SupervisorRecord> without_b = Members({"host-a", "host-c"});
  std::map<std::string, int> placed;
  constexpr int kDeployments = 600;
  for (int i = 0; i < kDeployments; ++i) {
    const std::string deployment = absl::StrCat("app-", i);
    const std::string first = RankFirst(deployment, three).holder;
    EXPECT_EQ(first, RankFirst(deployment, reversed).holder) << deployment;  // order does not matter
    ++placed[first];
    const std::string after = RankFirst(deployment, without_b).holder;
    if (first != "host-b") {
      EXPECT_EQ(after, first) << deployment << " moved although its member lives";
    } else {
      EXPECT_NE(after, "host-b");
    }
  }
  ASSERT_EQ(placed.size(), 3u);
  for (const auto& [holder, count] : placed) {
    // Each member's share of 600 is binomial(600, 1/3): 200 ± 11.5; 140 is more than 5 sigma off.
    EXPECT_GT(count, 140) << holder;
  }
  EXPECT_TRUE(RankFirst("app-1", {}).holder.empty());
}

}  // namespace
}  // namespace isobar::supervisor
