#include "supervisor/http/file_routes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

// The range a header selects in a 100-byte file, as "first-last"; "all" for the whole file, "416".
std::string Range(absl::string_view header, uint64_t size = 100) {
  absl::StatusOr<std::optional<ByteRange>> range = ParseRange(header, size);
  if (!range.ok()) return "416";
  if (!range->has_value()) return "all";
  return absl::StrCat((*range)->first, "-", (*range)->last);
}

TEST(ParseRangeTest, OneRangeOfEveryFormAndWhatIsRefused) {
  EXPECT_EQ(Range(""), "all");
  EXPECT_EQ(Range("bytes=0-9"), "0-9");
  EXPECT_EQ(Range("bytes=90-"), "90-99");
  EXPECT_EQ(Range("bytes=-10"), "90-99");
  EXPECT_EQ(Range("bytes=-1000"), "0-99");
  EXPECT_EQ(Range("bytes=50-5000"), "50-99");
  EXPECT_EQ(Range("bytes=99-99"), "99-99");
  EXPECT_EQ(Range("bytes=100-"), "416");
  EXPECT_EQ(Range("bytes=0-1,5-6"), "416");  // several ranges: refused, as Convex does
  EXPECT_EQ(Range("bytes=-0"), "416");
  EXPECT_EQ(Range("bytes=0-0", 0), "416");
  // Not a range at all: the whole file (RFC 9110 §14.2: an invalid Range is ignored).
  EXPECT_EQ(Range("items=0-9"), "all");
  EXPECT_EQ(Range("bytes=9-1"), "all");
  EXPECT_EQ(Range("bytes=x-y"), "all");
  EXPECT_EQ(Range("bytes=18446744073709551616-"), "all");
}

TEST(QueryParameterTest, FindsExactNames) {
  EXPECT_EQ(QueryParameter("/a?token=1.ab&x=2", "token"), "1.ab");
  EXPECT_EQ(QueryParameter("/a?xtoken=1&token=2", "token"), "2");
  EXPECT_EQ(QueryParameter("/a?token", "token"), "");
  EXPECT_EQ(QueryParameter("/a", "token"), "");
}

}  // namespace
}  // namespace isobar::supervisor
