#include "supervisor/api/serving_status.h"

#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Records what the health service was told, name by name (as gRPC's default one keeps it).
class RecordingHealth : public grpc::HealthCheckServiceInterface {
 public:
  void SetServingStatus(const std::string& name, bool serving) override { status[name] = serving; }
  void SetServingStatus(bool serving) override {
    for (auto& [name, value] : status) value = serving;
  }
  std::map<std::string, bool> status;
};

TEST(ServingStatusTest, TheServerItsServicesAndOwnedDeploymentsFollowTheDatabaseAndTheDrain) {
  RecordingHealth health;
  ServingStatus status({"", "isobar.v1.Functions"});
  status.SetOwned("a", true);  // told before the server exists: applied when it is attached
  status.Attach(&health);
  EXPECT_THAT(health.status, UnorderedElementsAre(Pair("", true), Pair("isobar.v1.Functions", true),
                                                  Pair("isobar.deployment/a", true)));
  status.SetDatabaseAvailable(false);
  EXPECT_THAT(health.status, UnorderedElementsAre(Pair("", false), Pair("isobar.v1.Functions", false),
                                                  Pair("isobar.deployment/a", false)));
  status.SetOwned("b", true);  // owned while PostgreSQL is away: not serving yet
  EXPECT_FALSE(health.status["isobar.deployment/b"]);
  status.SetDatabaseAvailable(true);
  EXPECT_TRUE(health.status["isobar.deployment/b"]);
  status.SetDraining();
  for (const auto& [name, serving] : health.status) EXPECT_FALSE(serving) << name;
  status.SetDatabaseAvailable(true);  // still draining
  for (const auto& [name, serving] : health.status) EXPECT_FALSE(serving) << name;
  EXPECT_TRUE(status.draining());
}

// The bug this replaces: PostgreSQL coming back set every registered name SERVING, a deployment
// another supervisor had taken over meanwhile included.
TEST(ServingStatusTest, ADeploymentNoLongerOwnedStaysNotServingWhenPostgresComesBack) {
  RecordingHealth health;
  ServingStatus status({""});
  status.Attach(&health);
  status.SetOwned("moved", true);
  status.SetOwned("kept", true);
  status.SetDatabaseAvailable(false);
  status.SetOwned("moved", false);
  status.SetDatabaseAvailable(true);
  EXPECT_THAT(health.status, UnorderedElementsAre(Pair("", true), Pair("isobar.deployment/kept", true),
                                                  Pair("isobar.deployment/moved", false)));
}

TEST(ServingStatusTest, WithoutAHealthServiceNothingIsToldAndTheFactsAreKept) {
  ServingStatus status({""});
  status.SetDatabaseAvailable(false);
  status.SetOwned("a", true);
  EXPECT_FALSE(status.database_available());
  EXPECT_FALSE(status.draining());
}

}  // namespace
}  // namespace isobar::supervisor
