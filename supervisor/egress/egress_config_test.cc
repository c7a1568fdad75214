#include "supervisor/egress/egress_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

TEST(EgressConfigTest, NothingStoredIsTheDefaults) {
  absl::StatusOr<EgressConfig> config = EgressConfigFromJson(std::nullopt);
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->enabled);
  EXPECT_TRUE(config->policy.allow.empty());
  EXPECT_TRUE(config->policy.ports.empty());  // 80 and 443
  EXPECT_EQ(config->limits.max_concurrent, FetchLimits().max_concurrent);
  EXPECT_EQ(CheckEgress(config->policy, "x", *ParseIp("10.0.0.1"), 80).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckEgress(config->policy, "x", *ParseIp("93.184.216.34"), 443).ok());
}

TEST(EgressConfigTest, TheOperatorsGrantsAndLimits) {
  absl::StatusOr<EgressConfig> config = EgressConfigFromJson(
      R"({"allow":["10.1.0.0/16"],"denyHosts":["*.Evil.example"],"ports":[8080],"maxConcurrent":3,
          "maxResponseBytes":"1000","timeoutSeconds":2})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(CheckEgress(config->policy, "svc", *ParseIp("10.1.2.3"), 8080).ok());
  EXPECT_FALSE(CheckEgress(config->policy, "svc", *ParseIp("10.2.0.1"), 8080).ok());
  EXPECT_FALSE(CheckEgress(config->policy, "svc", *ParseIp("10.1.2.3"), 443).ok());
  EXPECT_FALSE(CheckEgress(config->policy, "a.evil.example", *ParseIp("93.184.216.34"), 8080).ok());
  EXPECT_EQ(config->limits.max_concurrent, 3);
  EXPECT_EQ(config->limits.max_response_bytes, 1000u);
  EXPECT_EQ(config->limits.timeout, absl::Seconds(2));
}

TEST(EgressConfigTest, RefusesWhatIsNotARangeHostOrPort) {
  isobar::v1::EgressPolicy proto;
  proto.add_allow("10.0.0.0/33");
  EXPECT_THAT(EgressConfigFromProto(proto).status().message(), HasSubstr("allow: '10.0.0.0/33'"));
  proto.Clear();
  proto.add_allow_hosts("exa mple.com");
  EXPECT_EQ(EgressConfigFromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  proto.Clear();
  proto.add_allow_hosts("*.");
  EXPECT_EQ(EgressConfigFromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  proto.Clear();
  proto.add_ports(70000);
  EXPECT_EQ(EgressConfigFromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EgressConfigFromJson(std::string("{not json")).status().code(), absl::StatusCode::kDataLoss);
}

TEST(EgressConfigTest, TheEffectivePolicySpellsOutTheDefaults) {
  isobar::v1::EgressPolicy shown = EffectiveEgressPolicy({});
  EXPECT_THAT(shown.ports(), ::testing::ElementsAre(80, 443));
  EXPECT_EQ(shown.max_concurrent(), 32u);
  EXPECT_EQ(shown.timeout_seconds(), 300u);
}

}  // namespace
}  // namespace isobar::supervisor
