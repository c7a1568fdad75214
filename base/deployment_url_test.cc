// Deployment URLs of both kinds, and the Host a request names a deployment by.
#include "base/deployment_url.h"

#include "gtest/gtest.h"

namespace isobar {
namespace {

TEST(DeploymentUrlTest, PathFormSharesOneOrigin) {
  EXPECT_TRUE(CheckDeploymentBaseUrl("site-url", "http://127.0.0.1:7702").ok());
  EXPECT_FALSE(IsOriginPerDeployment("http://127.0.0.1:7702"));
  EXPECT_EQ(DeploymentUrl("http://127.0.0.1:7702", "chat"), "http://127.0.0.1:7702/d/chat");
}

TEST(DeploymentUrlTest, HostFormGivesEachItsOrigin) {
  const char kBase[] = "https://{deployment}.site.example.com:8443";
  EXPECT_TRUE(CheckDeploymentBaseUrl("site-url", kBase).ok());
  EXPECT_TRUE(IsOriginPerDeployment(kBase));
  EXPECT_EQ(DeploymentUrl(kBase, "chat"), "https://chat.site.example.com:8443");
  EXPECT_EQ(DeploymentFromHost(kBase, "chat.site.example.com:8443"), "chat");
  EXPECT_EQ(DeploymentFromHost(kBase, "Chat.Site.Example.COM"), "chat") << "port and case do not matter";
  EXPECT_EQ(DeploymentFromHost(kBase, "site.example.com"), std::nullopt);
  EXPECT_EQ(DeploymentFromHost(kBase, ".site.example.com"), std::nullopt);
  EXPECT_EQ(DeploymentFromHost(kBase, "a.chat.site.example.com"), std::nullopt) << "one label only";
  EXPECT_EQ(DeploymentFromHost(kBase, "chat.site.example.com.evil.net"), std::nullopt);
  EXPECT_EQ(DeploymentFromHost(kBase, "chatsite.example.com"), std::nullopt);
  EXPECT_EQ(DeploymentFromHost(kBase, ""), std::nullopt);
  EXPECT_EQ(DeploymentFromHost(kBase, "user@chat.site.example.com"), "chat");
}

TEST(DeploymentUrlTest, ThePlaceholderMustBeTheFirstLabel) {
  for (const char* bad : {"https://site.{deployment}.example.com", "https://{deployment}",
                          "https://{deployment}x.example.com", "https://example.com/{deployment}",
                          "https://{deployment}.{deployment}.example.com"}) {
    EXPECT_FALSE(CheckDeploymentBaseUrl("site-url", bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace isobar
