#include "storage/index_key.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

int CompareTuples(const std::vector<Value>& a, const std::vector<Value>& b) {
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (int c = Compare(a[i], b[i]); c != 0) return c;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

int Sign(int x) { return (x > 0) - (x < 0); }

TEST(IndexKeyTest, ByteOrderAgreesWithTheTotalOrder) {
  testing::RandomValues random(1234);
  for (int i = 0; i < 20000; ++i) {
    std::vector<Value> a, b;
    int n = 1 + i % 3;
    for (int k = 0; k < n; ++k) {
      a.push_back(random.Next(3, true));
      // Often share a prefix so that later positions decide.
      b.push_back(k + 1 < n && i % 2 == 0 ? a.back() : random.Next(3, true));
    }
    std::string ea = EncodeIndexKey(a), eb = EncodeIndexKey(b);
    ASSERT_EQ(Sign(ea.compare(eb)), Sign(CompareTuples(a, b))) << "case " << i;
  }
}

TEST(IndexKeyTest, DecodesToTheSameValues) {
  testing::RandomValues random(99);
  for (int i = 0; i < 5000; ++i) {
    std::vector<Value> key = {random.Next(3, true), random.Next(2, true)};
    absl::StatusOr<std::vector<Value>> back = DecodeIndexKey(EncodeIndexKey(key));
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ(CompareTuples(*back, key), 0);
  }
}

TEST(IndexKeyTest, TuplePrefixIsABytePrefix) {
  std::vector<Value> full = {Value::String("ann"), Value::Float64(3), Value::Bytes(std::string("\0\xff", 2))};
  std::string encoded = EncodeIndexKey(full);
  for (size_t n = 0; n <= full.size(); ++n) {
    std::string prefix = EncodeIndexKey(absl::MakeConstSpan(full).subspan(0, n));
    EXPECT_EQ(encoded.compare(0, prefix.size(), prefix), 0) << n;
    // Everything with this prefix sorts below its successor.
    std::string successor = PrefixSuccessor(prefix);
    if (!successor.empty()) {
      EXPECT_LT(encoded, successor);
    }
  }
  // "a" < "a\0" < "a\0\0" < "ab", even followed by more fields.
  auto key = [](std::string s) { return EncodeIndexKey({Value::String(std::move(s)), Value::Int64(9)}); };
  EXPECT_LT(key("a"), key(std::string("a\0", 2)));
  EXPECT_LT(key(std::string("a\0", 2)), key(std::string("a\0\0", 3)));
  EXPECT_LT(key(std::string("a\0\0", 3)), key("ab"));
}

TEST(IndexKeyTest, GarbageIsRejected) {
  for (std::string bad : {std::string("\x30\x01", 2), std::string("\x60" "abc", 4), std::string("\x07", 1),
                          std::string("\x80\x20", 2),
                          // fields out of order (found by tests/fuzz:ids_and_keys_fuzz), and twice
                          std::string("\x90\x60" "b\0\x20\x60" "a\0\x20\0", 11),
                          std::string("\x90\x60" "a\0\x20\x60" "a\0\x20\0", 11)}) {
    EXPECT_EQ(DecodeIndexKey(bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(IndexKeyTest, ValueEndsMarkEveryWholeLeadingValue) {
  const std::string a = EncodeIndexKey({Value::String(std::string("x\0y", 3))});
  const std::string ab = EncodeIndexKey({Value::String(std::string("x\0y", 3)), Value::MakeArray({Value::Int64(1), Value::Null()})});
  const std::string abc = ab + EncodeIndexKey({Value::Float64(2.5)});
  EXPECT_EQ(IndexKeyValueEnds(abc), (absl::InlinedVector<size_t, 8>{a.size(), ab.size(), abc.size()}));
  EXPECT_EQ(IndexKeyValueEnds(abc.substr(0, abc.size() - 1)), (absl::InlinedVector<size_t, 8>{a.size(), ab.size()}));
  EXPECT_TRUE(IndexKeyValueEnds("").empty());
  EXPECT_TRUE(IndexKeyValueEnds("\x07").empty());
}

// [P, WholeValuesEnd(P)) holds exactly the keys whose leading values are P's, strings that go on
// with a NUL included ("a" is a byte prefix of "a\0", and PrefixSuccessor would take both).
TEST(IndexKeyTest, WholeValuesEndBoundsExactlyTheKeysOfAPrefix) {
  const std::vector<Value> firsts = {Value::String(""), Value::String("a"), Value::String(std::string("a\0", 2)),
                                     Value::String(std::string("a\0b", 3)), Value::String(std::string("\0", 1)),
                                     Value::Bytes(std::string("a\0", 2)), Value::Bytes("a"), Value::Null(),
                                     Value::MakeArray({Value::String("a")}),
                                     Value::MakeArray({Value::String(std::string("a\0", 2))})};
  const std::vector<Value> seconds = {Value::Float64(1), Value::String(std::string("\0", 1)), Value::String("z")};
  std::vector<std::vector<Value>> keys;
  for (const Value& a : firsts) {
    for (const Value& b : seconds) keys.push_back({a, b});
  }
  for (const auto& of : keys) {
    for (size_t n = 1; n <= 2; ++n) {
      const std::vector<Value> lead(of.begin(), of.begin() + static_cast<long>(n));
      const std::string prefix = EncodeIndexKey(lead);
      for (const auto& key : keys) {
        const std::string encoded = EncodeIndexKey(key);
        const bool same_lead = CompareTuples(std::vector<Value>(key.begin(), key.begin() + static_cast<long>(n)), lead) == 0;
        EXPECT_EQ(prefix <= encoded && encoded < WholeValuesEnd(prefix), same_lead)
            << "lead of " << n << " values, key " << absl::BytesToHexString(encoded);
      }
    }
  }
}

TEST(IndexKeyTest, PrefixSuccessor) {
  EXPECT_EQ(PrefixSuccessor("ab"), "ac");
  EXPECT_EQ(PrefixSuccessor(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixSuccessor(std::string("\xff", 1)), "");
}

}  // namespace
}  // namespace isobar::storage
