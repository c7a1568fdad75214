#include "base/base64.h"

#include <random>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

// Differential against absl (the slower, reference implementation), with a replayable seed.
TEST(Base64Test, AgreesWithAbslOnRandomBytes) {
  std::mt19937 random(20261207);
  for (int round = 0; round < 500; ++round) {
    std::string bytes(random() % 3000, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    const std::string encoded = Base64Encode(bytes);
    ASSERT_EQ(encoded, absl::Base64Escape(bytes)) << "round " << round;
    std::optional<std::string> decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << "round " << round;
    ASSERT_EQ(*decoded, bytes) << "round " << round;
  }
  // Across the slices the encoder and decoder work in.
  std::string large(7 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131);
  EXPECT_EQ(Base64Decode(Base64Encode(large)), large);
}

TEST(Base64Test, RefusesWhatIsNotBase64) {
  for (const char* bad : {"a===", "ab=c", "====", " YWJj", "YWJj ", "YW Jj", "YW\nJj", "YWJ*", "=YWJ", "YWJj----", "YWJj-_"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
  EXPECT_EQ(Base64Decode("YWI="), "ab");
  EXPECT_EQ(Base64Decode("YWI"), "ab");  // unpadded, as absl accepts
  EXPECT_EQ(Base64Decode(""), "");
}

}  // namespace
}  // namespace isobar
