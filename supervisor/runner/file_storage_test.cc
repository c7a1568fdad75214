// Signed file URLs: each grants one thing, for one deployment, until it expires, and cannot be forged.
#include "supervisor/runner/file_storage.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string After(absl::string_view url, absl::string_view marker) {
  const size_t at = url.find(marker);
  return at == absl::string_view::npos ? "" : std::string(url.substr(at + marker.size()));
}

class FileUrlsTest : public ::testing::Test {
 protected:
  const storage::DeploymentInfo chat_{storage::DeploymentId(1), "chat", std::string(32, 'k')};
  // Another deployment, and the same name with another secret (a deployment deleted and made again).
  const storage::DeploymentInfo shop_{storage::DeploymentId(2), "shop", std::string(32, 's')};
  const storage::DeploymentInfo chat_again_{storage::DeploymentId(3), "chat", std::string(32, 'z')};
  const absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

TEST_F(FileUrlsTest, UploadTokensHoldAnHourForTheirDeploymentOnly) {
  const std::string url = UploadUrl("http://h/d/chat", chat_, now_);
  EXPECT_THAT(url, StartsWith("http://h/d/chat/api/storage/upload?token="));
  const std::string token = After(url, "token=");
  EXPECT_TRUE(CheckUploadToken(chat_, token, now_ + absl::Minutes(59)).ok());
  EXPECT_THAT(CheckUploadToken(chat_, token, now_ + absl::Hours(1)).message(), HasSubstr("expired"));
  EXPECT_FALSE(CheckUploadToken(shop_, token, now_).ok());
  EXPECT_FALSE(CheckUploadToken(chat_again_, token, now_).ok());
  // A later expiry with the same signature, and malformed tokens.
  const std::string later = absl::StrCat(std::stoll(token.substr(0, token.find('.'))) + 3600, token.substr(token.find('.')));
  EXPECT_FALSE(CheckUploadToken(chat_, later, now_).ok());
  for (const char* bad : {"", ".", "123", "123.", "x.y", "99999999999999999999999.00"}) {
    EXPECT_FALSE(CheckUploadToken(chat_, bad, now_).ok()) << bad;
  }
}

TEST_F(FileUrlsTest, ServingUrlsAreBoundToTheirFileAndExpire) {
  const std::string url = ServingUrl("http://h/d/chat", chat_, "kg2abc", now_);
  EXPECT_THAT(url, StartsWith("http://h/d/chat/api/storage/kg2abc?expires="));
  const std::string expires = After(url, "expires=").substr(0, After(url, "expires=").find('&'));
  const std::string signature = After(url, "signature=");
  EXPECT_TRUE(CheckServingSignature(chat_, "kg2abc", expires, signature, now_ + absl::Hours(24)).ok());
  EXPECT_FALSE(CheckServingSignature(chat_, "kg2abc", expires, signature, now_ + absl::Hours(26)).ok());
  EXPECT_FALSE(CheckServingSignature(chat_, "kg2abd", expires, signature, now_).ok());
  EXPECT_FALSE(CheckServingSignature(shop_, "kg2abc", expires, signature, now_).ok());
  // The same URL all hour (a query's result does not change on every run).
  EXPECT_EQ(ServingUrl("http://h/d/chat", chat_, "kg2abc", now_ + absl::Minutes(1)).substr(0, url.find('&')),
            url.substr(0, url.find('&')));
  // An upload token does not serve, nor a serving signature upload.
  const std::string token = After(UploadUrl("http://h/d/chat", chat_, now_), "token=");
  EXPECT_FALSE(CheckServingSignature(chat_, "", token.substr(0, token.find('.')), token.substr(token.find('.') + 1), now_).ok());
  EXPECT_FALSE(CheckUploadToken(chat_, absl::StrCat(expires, ".", signature), now_).ok());
}

}  // namespace
}  // namespace isobar::supervisor
