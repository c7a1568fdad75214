#include "storage/convex_json.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

using ::testing::HasSubstr;

absl::StatusCode CodeOf(absl::string_view json, ConvexJsonOptions options = {}) {
  return ParseConvexJson(json, options).status().code();
}

std::string Nested(int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += "[";
  s += "1";
  for (int i = 0; i < depth; ++i) s += "]";
  return s;
}

TEST(ConvexJsonTest, SpecialEncodingsMatchTheLibrary) {
  EXPECT_EQ(ToConvexJson(Value::Int64(1)), R"({"$integer":"AQAAAAAAAAA="})");
  EXPECT_EQ(ToConvexJson(Value::Int64(-1)), R"({"$integer":"//////////8="})");
  EXPECT_EQ(ToConvexJson(Value::Float64(std::numeric_limits<double>::quiet_NaN())), R"({"$float":"AAAAAAAA+H8="})");
  EXPECT_EQ(ToConvexJson(Value::Float64(-0.0)), R"({"$float":"AAAAAAAAAIA="})");
  EXPECT_EQ(ToConvexJson(Value::Float64(std::numeric_limits<double>::infinity())), R"({"$float":"AAAAAAAA8H8="})");
  EXPECT_EQ(ToConvexJson(Value::Bytes("hi")), R"({"$bytes":"aGk="})");
  EXPECT_EQ(ToConvexJson(Value::Float64(2.5)), "2.5");
  EXPECT_EQ(ToConvexJson(Value::Float64(3)), "3");

  absl::StatusOr<Value> v = ParseConvexJson(R"({"$integer":"//////////8="})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->int64(), -1);
  v = ParseConvexJson(R"({"$float":"AAAAAAAAAIA="})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->float64() == 0 && std::signbit(v->float64()));
}

TEST(ConvexJsonTest, ObjectsComeOutSortedAndCompact) {
  absl::StatusOr<Value> v = ParseConvexJson(" { \"b\" : [1, true, null, \"x\\n\\u00e9\\ud83d\\ude00\"], \"a\": {} } ");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(ToConvexJson(*v), "{\"a\":{},\"b\":[1,true,null,\"x\\n\xc3\xa9\xf0\x9f\x98\x80\"]}");
}

TEST(ConvexJsonTest, RejectsWhatConvexRejects) {
  for (const char* bad : {
           R"({"$float":"AAAAAAAA8D8="})",    // 1.0 is not special
           R"({"$set":[]})", R"({"$map":[]})",  // legacy
           R"({"$integer":"AQAAAAAAAA=="})",  // 7 bytes
           R"({"$integer":"AQAAAAAAAAA"})",   // unpadded: not canonical
           R"({"$integer":1})",
           R"({"$bytes":"a$=="})",
           R"({"$integer":"AQAAAAAAAAA=","b":2})",  // a $ name among others
           R"({"a":1,"a":2})",                      // duplicate
           R"({"$undefined":null})",                // only where allowed
           R"([{"$undefined":null}])",
           R"({"a\u0001":1})",  // control character in a name
           "{\"\xc3\xa9\":1}",  // non-ASCII name
           R"("\ud800")",       // lone surrogate
           "\"\xff\"",          // invalid UTF-8
           "\"\xed\xa0\x80\"",  // a surrogate encoded in UTF-8
           "\"\xc0\xaf\"",      // overlong
           "\"a\tb\"",          // raw control character
           "[1,]", "{\"a\":1,}", "01", "1.", "-", "+1", "NaN", "1e400", "[1] x", "", "tru",
       }) {
    EXPECT_EQ(CodeOf(bad), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ConvexJsonTest, NumbersBeyondFloat64) {
  // Too small rounds to zero (keeping the sign), as JSON.parse does; too large is refused.
  absl::StatusOr<Value> tiny = ParseConvexJson("1e-400");
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_EQ(tiny->float64(), 0.0);
  EXPECT_FALSE(std::signbit(tiny->float64()));
  absl::StatusOr<Value> negative_tiny = ParseConvexJson("-1e-400");
  ASSERT_TRUE(negative_tiny.ok()) << negative_tiny.status();
  EXPECT_TRUE(std::signbit(negative_tiny->float64()));
  EXPECT_TRUE(ParseConvexJson("0." + std::string(400, '0') + "1").ok());
  for (const char* huge : {"1e400", "-1e400", "0.5e400", "1" /* followed by 400 zeros below */}) {
    std::string text = std::string(huge) == "1" ? "1" + std::string(400, '0') : huge;
    EXPECT_EQ(CodeOf(text), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ConvexJsonTest, UndefinedWhereAllowed) {
  ConvexJsonOptions options;
  options.allow_undefined = true;
  absl::StatusOr<Value> patch = ParseConvexJson(R"({"gone":{"$undefined":null},"kept":1})", options);
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_TRUE(patch->object()[0].second.is_undefined());
  EXPECT_EQ(ToConvexJson(*patch), R"({"gone":{"$undefined":null},"kept":1})");
  EXPECT_EQ(CodeOf(R"([{"$undefined":null}])", options), absl::StatusCode::kInvalidArgument);
}

TEST(ConvexJsonTest, LimitsAtTheBoundaryAndOnePast) {
  EXPECT_TRUE(ParseConvexJson(Nested(64)).ok());
  EXPECT_EQ(CodeOf(Nested(65)), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(CodeOf(Nested(100000)), absl::StatusCode::kResourceExhausted);  // no stack overflow

  std::string array = "[";
  for (int i = 0; i < 8192; ++i) absl::StrAppend(&array, i == 0 ? "" : ",", "0");
  EXPECT_TRUE(ParseConvexJson(array + "]").ok());
  EXPECT_EQ(CodeOf(array + ",0]"), absl::StatusCode::kResourceExhausted);

  std::string object = "{";
  for (int i = 0; i < 1024; ++i) absl::StrAppend(&object, i == 0 ? "" : ",", "\"f", i, "\":0");
  EXPECT_TRUE(ParseConvexJson(object + "}").ok());
  EXPECT_EQ(CodeOf(object + ",\"g\":0}"), absl::StatusCode::kResourceExhausted);

  std::string name(1024, 'n');
  EXPECT_TRUE(ParseConvexJson(absl::StrCat("{\"", name, "\":0}")).ok());
  absl::Status long_name = ParseConvexJson(absl::StrCat("{\"", name, "n\":0}")).status();
  EXPECT_EQ(long_name.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(long_name.message(), "Field name is too long (1025 > maximum 1024)");
  EXPECT_EQ(ParseConvexJson(Nested(65)).status().message(), "Value is too nested (nested 65 levels deep > maximum nesting 64)");
  EXPECT_EQ(ParseConvexJson(array + ",0]").status().message(), "Array length is too long (8193 > maximum length 8192)");
  EXPECT_EQ(ParseConvexJson(object + ",\"g\":0}").status().message(),
            "Object has too many fields (1025 > maximum number 1024)");

  ConvexJsonOptions small;
  small.limits.max_bytes = 10;
  EXPECT_TRUE(ParseConvexJson("[1,2,3,44]", small).ok());
  EXPECT_EQ(CodeOf("[1,2,3,444]", small), absl::StatusCode::kResourceExhausted);
}

// In Convex's words (its value crate).
TEST(ConvexJsonTest, ErrorsNameTheProblem) {
  EXPECT_EQ(ParseConvexJson(R"({"a":{"$b":1}})").status().message(), "Field name $b starts with '$', which is reserved.");
  EXPECT_EQ(ParseConvexJson("{\"\xC3\xA9\":1}").status().message(),
            "Field name \xC3\xA9 has invalid character '\xC3\xA9': Field names can only contain non-control ASCII "
            "characters");
}

TEST(ConvexJsonTest, RandomValuesRoundTripExactly) {
  testing::RandomValues random(42);
  for (int i = 0; i < 5000; ++i) {
    Value v = random.Next(4);
    std::string json = ToConvexJson(v);
    absl::StatusOr<Value> back = ParseConvexJson(json);
    ASSERT_TRUE(back.ok()) << back.status() << " for " << json;
    EXPECT_EQ(Compare(*back, v), 0) << json;
    EXPECT_EQ(ToConvexJson(*back), json);
    EXPECT_EQ(NestingDepth(*back), NestingDepth(v));
  }
}

// Convex's "json" format (crates/value/src/export.rs): lossy, plain JSON a non-Convex client reads.
TEST(ConvexJsonTest, CleanJsonIsConvexsJsonExportFormat) {
  absl::StatusOr<Value> v = ParseConvexJson(
      R"({"b":{"$bytes":"AAE="},"f":1.5,"i":{"$integer":"BQAAAAAAAAA="},"inf":{"$float":"AAAAAAAA8H8="},)"
      R"("n":null,"nan":{"$float":"AAAAAAAA+H8="},"neg":{"$integer":"//////////8="},"s":"x\"y","z":[true,{"$integer":"AAAAAAAAAAA="}]})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(ToCleanJson(*v),
            R"({"b":"AAE=","f":1.5,"i":"5","inf":"Infinity","n":null,"nan":"NaN","neg":"-1","s":"x\"y","z":[true,"0"]})");
  EXPECT_EQ(ToCleanJson(Value::Float64(-std::numeric_limits<double>::infinity())), R"("-Infinity")");
}

// Convex's snapshot export format (crates/value/src/export.rs, export_clean_lossless): Int64 as an
// integer, finite floats with a point, special floats and bytes encoded; read back exactly.
TEST(ConvexJsonTest, ExportJsonIsConvexsSnapshotFormatAndReadsBackExactly) {
  absl::StatusOr<Value> v = ParseConvexJson(
      R"({"b":{"$bytes":"AAE="},"f":1.5,"five":5,"i":{"$integer":"BQAAAAAAAAA="},"inf":{"$float":"AAAAAAAA8H8="},)"
      R"("nan":{"$float":"AAAAAAAA+H8="},"neg":{"$integer":"//////////8="},"nz":{"$float":"AAAAAAAAAIA="},"z":[1e22]})");
  ASSERT_TRUE(v.ok()) << v.status();
  const std::string exported = ToExportJson(*v);
  EXPECT_EQ(exported, R"({"b":{"$bytes":"AAE="},"f":1.5,"five":5.0,"i":5,"inf":{"$float":"AAAAAAAA8H8="},)"
                      R"("nan":{"$float":"AAAAAAAA+H8="},"neg":-1,"nz":-0.0,"z":[1e+22]})");
  absl::StatusOr<Value> back = ParseConvexJson(exported, {.export_integers = true});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToConvexJson(*back), ToConvexJson(*v));
  // Beyond int64: a float64, as Convex reads it.
  absl::StatusOr<Value> big = ParseConvexJson("18446744073709551616", {.export_integers = true});
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->type(), Value::Type::kFloat64);

  testing::RandomValues random(7);
  for (int i = 0; i < 5000; ++i) {
    const Value value = random.Next(4);
    absl::StatusOr<Value> read = ParseConvexJson(ToExportJson(value), {.export_integers = true});
    ASSERT_TRUE(read.ok()) << read.status() << " for " << ToExportJson(value);
    EXPECT_EQ(Compare(*read, value), 0) << ToExportJson(value);
  }
}

}  // namespace
}  // namespace isobar::storage
