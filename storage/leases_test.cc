// Writer leases on a real PostgreSQL: a live lease of another holder is refused unless taken over,
// a lapsed or released one is free, and renewal tells a holder which of its leases are still its own.
#include "storage/leases.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LeasesTest : public ::testing::Test {
 protected:
  PgPool& pool_ = testing::SharedPostgres().pool();
  const DeploymentId deployment_ = testing::NewDeployment(pool_);
  const LeaseOptions a_{.holder = "supervisor-a"};
  const LeaseOptions b_{.holder = "supervisor-b"};
};

TEST_F(LeasesTest, ALiveLeaseOfAnotherHolderIsRefusedUnlessTakenOver) {
  absl::StatusOr<AcquiredLease> first = AcquireLease(pool_, deployment_, a_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->displaced.empty());

  absl::StatusOr<AcquiredLease> refused = AcquireLease(pool_, deployment_, b_);
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("served by another supervisor (supervisor-a"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--take-over"));
  absl::Status startup = CheckNoOtherLiveHolder(pool_, b_);
  EXPECT_TRUE(absl::IsFailedPrecondition(startup)) << startup;
  EXPECT_THAT(startup.message(), HasSubstr("supervisor-a (1 deployments)"));
  EXPECT_TRUE(CheckNoOtherLiveHolder(pool_, a_).ok());  // our own leases do not count

  // The same holder (a restart on the same data directory) takes it back at once.
  absl::StatusOr<AcquiredLease> again = AcquireLease(pool_, deployment_, a_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(again->epoch.epoch, first->epoch.epoch);

  LeaseOptions take_over = b_;
  take_over.take_over = true;
  absl::StatusOr<AcquiredLease> taken = AcquireLease(pool_, deployment_, take_over);
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ(taken->displaced, "supervisor-a");
  EXPECT_EQ(taken->previous_holder, "supervisor-a");
  EXPECT_TRUE(first->previous_holder.empty());
  EXPECT_GT(taken->epoch.epoch, again->epoch.epoch);
  // The displaced holder's renewal says it is no longer its own; the new holder's keeps it.
  absl::StatusOr<std::vector<DeploymentId>> kept_a = RenewLeases(pool_, "supervisor-a", {{deployment_, again->epoch}});
  ASSERT_TRUE(kept_a.ok()) << kept_a.status();
  EXPECT_TRUE(kept_a->empty());
  absl::StatusOr<std::vector<DeploymentId>> kept_b = RenewLeases(pool_, "supervisor-b", {{deployment_, taken->epoch}});
  ASSERT_TRUE(kept_b.ok()) << kept_b.status();
  EXPECT_THAT(*kept_b, ElementsAre(deployment_));
}

TEST_F(LeasesTest, ALapsedOrReleasedLeaseIsFree) {
  absl::StatusOr<AcquiredLease> first = AcquireLease(pool_, deployment_, a_);
  ASSERT_TRUE(first.ok()) << first.status();
  // Judged by the taker's duration on PostgreSQL's clock: with none, a lease renewed by an earlier
  // transaction has lapsed.
  LeaseOptions b_short = b_;
  b_short.duration = absl::ZeroDuration();
  absl::StatusOr<AcquiredLease> second = AcquireLease(pool_, deployment_, b_short);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->displaced.empty());
  EXPECT_EQ(second->previous_holder, "supervisor-a");  // lapsed, not displaced: its work is orphaned all the same

  ASSERT_TRUE(ReleaseLeases(pool_, "supervisor-b", {{deployment_, second->epoch}}).ok());
  absl::StatusOr<AcquiredLease> third = AcquireLease(pool_, deployment_, a_);  // the default 5 s duration
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->displaced.empty());
  // Releasing with a stale epoch does nothing.
  ASSERT_TRUE(ReleaseLeases(pool_, "supervisor-b", {{deployment_, second->epoch}}).ok());
  EXPECT_FALSE(AcquireLease(pool_, deployment_, b_).ok());
}

}  // namespace
}  // namespace isobar::storage
