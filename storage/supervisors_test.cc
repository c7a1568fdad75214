// The cluster's membership table on a real PostgreSQL: heartbeats make a supervisor live, leaving or
// going silent makes it not; a deployment's live lease names its holder and where it is reached; a
// lease that lapsed while held is told apart from one given up.
#include "storage/supervisors.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/catalog.h"
#include "storage/leases.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

using ::testing::Contains;
using ::testing::Field;
using ::testing::Not;

std::string Unique(absl::string_view prefix) {
  static int counter = 0;
  return absl::StrCat(prefix, "-", getpid(), "-", ++counter);
}

class SupervisorsTest : public ::testing::Test {
 protected:
  PgPool& pool_ = testing::SharedPostgres().pool();
  const SupervisorRecord a_{Unique("sup-a"), "10.0.0.1:7700", "10.0.0.1:7701"};
  const SupervisorRecord b_{Unique("sup-b"), "10.0.0.2:7700", ""};
};

TEST_F(SupervisorsTest, AHeartbeatMakesASupervisorLiveAndLeavingEndsIt) {
  ASSERT_TRUE(Heartbeat(pool_, a_).ok());
  ASSERT_TRUE(Heartbeat(pool_, b_).ok());
  absl::StatusOr<std::vector<SupervisorRecord>> live = LiveSupervisors(pool_, absl::Seconds(5));
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_THAT(*live, Contains(Field(&SupervisorRecord::grpc_address, "10.0.0.1:7700")));
  EXPECT_THAT(*live, Contains(Field(&SupervisorRecord::holder, b_.holder)));

  // A heartbeat moves the address (a restart on another port).
  SupervisorRecord moved = a_;
  moved.grpc_address = "10.0.0.1:7800";
  ASSERT_TRUE(Heartbeat(pool_, moved).ok());
  live = LiveSupervisors(pool_, absl::Seconds(5));
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(*live, Contains(Field(&SupervisorRecord::grpc_address, "10.0.0.1:7800")));
  EXPECT_THAT(*live, Not(Contains(Field(&SupervisorRecord::grpc_address, "10.0.0.1:7700"))));

  ASSERT_TRUE(LeaveCluster(pool_, b_.holder).ok());
  live = LiveSupervisors(pool_, absl::Seconds(5));
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(*live, Not(Contains(Field(&SupervisorRecord::holder, b_.holder))));
  // Judged by PostgreSQL's clock: with no tolerance, a heartbeat of an earlier transaction is old.
  live = LiveSupervisors(pool_, absl::ZeroDuration());
  ASSERT_TRUE(live.ok());
  EXPECT_THAT(*live, Not(Contains(Field(&SupervisorRecord::holder, a_.holder))));
}

TEST_F(SupervisorsTest, ALiveLeaseNamesItsHolderAndALapsedOneIsToldApartFromAGivenUpOne) {
  Catalog catalog(pool_);
  const std::string name = Unique("cluster-d");
  absl::StatusOr<DeploymentInfo> d = catalog.CreateDeployment(name);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<std::optional<SupervisorRecord>> holder = LiveLeaseHolder(pool_, name, absl::Seconds(5));
  ASSERT_TRUE(holder.ok()) << holder.status();
  EXPECT_FALSE(holder->has_value());  // never opened

  ASSERT_TRUE(Heartbeat(pool_, a_).ok());
  absl::StatusOr<AcquiredLease> lease = AcquireLease(pool_, d->id, {.holder = a_.holder});
  ASSERT_TRUE(lease.ok()) << lease.status();
  holder = LiveLeaseHolder(pool_, name, absl::Seconds(5));
  ASSERT_TRUE(holder.ok() && holder->has_value());
  EXPECT_EQ((*holder)->holder, a_.holder);
  EXPECT_EQ((*holder)->grpc_address, a_.grpc_address);
  EXPECT_EQ((*holder)->http_address, a_.http_address);
  EXPECT_FALSE(LiveLeaseHolder(pool_, "no-such-deployment", absl::Seconds(5))->has_value());

  // Seen with no tolerance, the lease renewed by an earlier transaction has lapsed while held.
  holder = LiveLeaseHolder(pool_, name, absl::ZeroDuration());
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());
  absl::StatusOr<std::vector<std::string>> lapsed = LapsedDeployments(pool_, absl::ZeroDuration());
  ASSERT_TRUE(lapsed.ok()) << lapsed.status();
  EXPECT_THAT(*lapsed, Contains(name));
  lapsed = LapsedDeployments(pool_, absl::Seconds(5));
  ASSERT_TRUE(lapsed.ok());
  EXPECT_THAT(*lapsed, Not(Contains(name)));  // live

  // Given up: free, but not lapsed (nobody's work is orphaned).
  ASSERT_TRUE(ReleaseLeases(pool_, a_.holder, {{d->id, lease->epoch}}).ok());
  lapsed = LapsedDeployments(pool_, absl::ZeroDuration());
  ASSERT_TRUE(lapsed.ok());
  EXPECT_THAT(*lapsed, Not(Contains(name)));
}

}  // namespace
}  // namespace isobar::storage
