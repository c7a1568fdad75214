// SHA-256 given a part at a time equals SHA-256 of the whole, however the parts fall.
#include "base/sha256.h"

#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace isobar {
namespace {

TEST(Sha256Test, KnownDigest) {
  EXPECT_EQ(absl::BytesToHexString(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(absl::BytesToHexString(Sha256Stream().Finish()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, PartsHashAsTheWhole) {
  std::mt19937 rng(20261207);  // seeded: a failure replays
  for (int round = 0; round < 50; ++round) {
    std::string data(rng() % 20000, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    Sha256Stream hash;
    for (size_t at = 0; at < data.size();) {
      const size_t part = std::min<size_t>(data.size() - at, rng() % 3000);
      hash.Update(absl::string_view(data).substr(at, part));
      at += part;
    }
    EXPECT_EQ(std::move(hash).Finish(), Sha256(data)) << "round " << round;
  }
}

}  // namespace
}  // namespace isobar
