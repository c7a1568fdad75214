#include "base/utf8.h"

#include <random>

#include "gtest/gtest.h"

namespace isobar {
namespace {

constexpr char kFffd[] = "\xEF\xBF\xBD";

TEST(Utf8Test, WellFormedTextIsKept) {
  for (const char* text : {"", "plain", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x8E\x89", "\xF4\x8F\xBF\xBF",
                           "\xEF\xBF\xBD"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_EQ(ToValidUtf8(text), text);
  }
}

TEST(Utf8Test, IllFormedSubpartsBecomeOneReplacementEach) {
  struct Case {
    std::string in, out;
  };
  const std::string r = kFffd;
  for (const Case& c : std::vector<Case>{
           {"\xED\xA0\xBC", r + r + r},              // a lone surrogate as V8 writes it (CESU-8)
           {"a\xED\xB0\x80" "b", "a" + r + r + r + "b"},
           {"\xC0\xAF", r + r},                      // overlong
           {"\xE0\x80\xAF", r + r + r},              // overlong
           {"\xF4\x90\x80\x80", r + r + r + r},      // above U+10FFFF
           {"\xF5", r},
           {"\xFF\xFE", r + r},
           {"\x80", r},                              // a continuation byte alone
           {"\xE2\x82", r},                          // truncated: one maximal subpart
           {"\xE2\x82x", r + "x"},
           {"\xF0\x9F\x8E", r},
           {"\xF0\x9F\x8Ex\xC3\xA9", r + "x\xC3\xA9"},
       }) {
    EXPECT_FALSE(IsValidUtf8(c.in));
    EXPECT_EQ(ToValidUtf8(c.in), c.out);
    std::string in_place = c.in;
    EXPECT_TRUE(MakeValidUtf8(&in_place));
    EXPECT_EQ(in_place, c.out);
  }
}

TEST(Utf8Test, RandomBytesAlwaysComeOutWellFormed) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes(rng() % 12, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 2 ? rng() % 256 : 0x80 + rng() % 64);
    const std::string out = ToValidUtf8(bytes);
    ASSERT_TRUE(IsValidUtf8(out));
    if (IsValidUtf8(bytes)) {
      ASSERT_EQ(out, bytes);
    }
    ASSERT_EQ(ToValidUtf8(out), out);
  }
}

TEST(Latin1Test, EveryByteRoundTripsAndWiderCharactersAreRefused) {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(static_cast<char>(b));
  const std::string text = Latin1ToUtf8(bytes);
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_EQ(Utf8ToLatin1(text), bytes);
  EXPECT_EQ(Latin1ToUtf8("caf\xe9"), "caf\xc3\xa9");
  EXPECT_FALSE(Utf8ToLatin1("\xc4\x80").has_value());  // U+0100
  EXPECT_FALSE(Utf8ToLatin1("\xc3").has_value());       // cut short
}

}  // namespace
}  // namespace isobar
