#include "storage/document_id.h"

#include <random>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::storage {
namespace {

using ::testing::HasSubstr;

DocumentId FromHex(uint32_t table, const std::string& hex) {
  DocumentId id;
  id.table = TableNumber(table);
  std::string bytes = absl::HexStringToBytes(hex);
  std::copy(bytes.begin(), bytes.end(), id.internal.begin());
  return id;
}

TEST(DocumentIdTest, TheReferenceVector) {
  DocumentId id = FromHex(10001, "0123456789abcdef0123456789ab506c");
  EXPECT_EQ(EncodeDocumentId(id), "j57028t5cy4tqkff04hmasw9nd86rqvv");
  absl::StatusOr<DocumentId> back = DecodeDocumentId("j57028t5cy4tqkff04hmasw9nd86rqvv");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->table.value(), 10001u);
  EXPECT_EQ(*back, id);
}

TEST(DocumentIdTest, LengthsByTableNumber) {
  const std::string internal = "00112233445566778899aabbccddeeff";
  EXPECT_EQ(EncodeDocumentId(FromHex(1, internal)).size(), 31u);
  EXPECT_EQ(EncodeDocumentId(FromHex(127, internal)).size(), 31u);
  EXPECT_EQ(EncodeDocumentId(FromHex(128, internal)).size(), 32u);
  EXPECT_EQ(EncodeDocumentId(FromHex(16383, internal)).size(), 32u);
}

TEST(DocumentIdTest, RoundTripsAcrossTableNumbers) {
  std::mt19937_64 rng(5);
  for (uint32_t table : {1u, 127u, 128u, 10001u, 16383u, 16384u, 2097152u, 0xFFFFFFFFu}) {
    for (int i = 0; i < 200; ++i) {
      DocumentId id;
      id.table = TableNumber(table);
      for (uint8_t& b : id.internal) b = static_cast<uint8_t>(rng());
      std::string text = EncodeDocumentId(id);
      absl::StatusOr<DocumentId> back = DecodeDocumentId(text);
      ASSERT_TRUE(back.ok()) << back.status() << " " << text;
      EXPECT_EQ(*back, id);
    }
  }
}

TEST(DocumentIdTest, DecodingIsStrict) {
  const std::string good = "j57028t5cy4tqkff04hmasw9nd86rqvv";
  // Every single-character change is caught (checksum, alphabet or canonical form).
  const std::string alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  int changes = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (char c : alphabet) {
      if (c == good[i]) continue;
      std::string bad = good;
      bad[i] = c;
      absl::StatusOr<DocumentId> decoded = DecodeDocumentId(bad);
      // A changed VInt byte can make a different, valid table number only if the checksum also
      // matches; Fletcher-16 over these bytes never lets a single change through.
      EXPECT_FALSE(decoded.ok()) << bad;
      ++changes;
    }
  }
  EXPECT_EQ(changes, 32 * 31);
  for (const std::string& bad : {std::string(""), good.substr(1), good + "0", std::string("J57028T5CY4TQKFF04HMASW9ND86RQVV"),
                                 std::string("i57028t5cy4tqkff04hmasw9nd86rqvv"), std::string(40, '0')}) {
    absl::Status status = DecodeDocumentId(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("Unable to decode ID")) << bad;
  }
}

TEST(DocumentIdTest, Fletcher16) {
  EXPECT_EQ(Fletcher16(""), 0);
  // Convex's variant sums mod 256 (not the textbook mod 255): for "abcde" c0 = 495 mod 256 = 239 and
  // c1 = 963 mod 256 = 195.
  EXPECT_EQ(Fletcher16("abcde"), (195 << 8) | 239);
}

}  // namespace
}  // namespace isobar::storage
