#include "storage/value.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

Value Obj(Value::Object fields) { return *Value::MakeObject(std::move(fields)); }

TEST(ValueTest, TotalOrderFollowsTheTypeOrderThenValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Strictly increasing, per CONVEX_ABI.md §4.4.
  std::vector<Value> ordered = {
      Value::Undefined(),
      Value::Null(),
      Value::Int64(std::numeric_limits<int64_t>::min()),
      Value::Int64(-1),
      Value::Int64(0),
      Value::Int64(std::numeric_limits<int64_t>::max()),
      Value::Float64(-nan),
      Value::Float64(-inf),
      Value::Float64(-1.5),
      Value::Float64(-0.0),
      Value::Float64(0.0),
      Value::Float64(std::numeric_limits<double>::denorm_min()),
      Value::Float64(2.5),
      Value::Float64(inf),
      Value::Float64(nan),
      Value::Boolean(false),
      Value::Boolean(true),
      Value::String(""),
      Value::String(std::string("\0", 1)),
      Value::String("a"),
      Value::String("ab"),
      Value::String("b"),
      Value::String("\xc3\xa9"),  // é sorts after ASCII by UTF-8 bytes
      Value::Bytes(""),
      Value::Bytes("a"),
      Value::MakeArray({}),
      Value::MakeArray({Value::Null()}),
      Value::MakeArray({Value::Null(), Value::Null()}),
      Value::MakeArray({Value::Int64(0)}),
      Obj({}),
      Obj({{"a", Value::Int64(1)}}),
      Obj({{"a", Value::Int64(1)}, {"b", Value::Null()}}),
      Obj({{"a", Value::Int64(2)}}),
      Obj({{"b", Value::Null()}}),
  };
  for (size_t i = 0; i < ordered.size(); ++i) {
    EXPECT_EQ(Compare(ordered[i], ordered[i]), 0) << i;
    for (size_t j = i + 1; j < ordered.size(); ++j) {
      EXPECT_LT(Compare(ordered[i], ordered[j]), 0) << i << " vs " << j;
      EXPECT_GT(Compare(ordered[j], ordered[i]), 0) << j << " vs " << i;
    }
  }
  // No cross-type numeric comparison: 1n < 0.5 because int64 sorts below float64.
  EXPECT_LT(Compare(Value::Int64(1), Value::Float64(0.5)), 0);
}

TEST(ValueTest, OrderIsAntisymmetricAndTransitiveOnRandomValues) {
  testing::RandomValues random(7);
  std::vector<Value> values;
  for (int i = 0; i < 300; ++i) values.push_back(random.Next(3, true));
  std::sort(values.begin(), values.end(), [](const Value& a, const Value& b) { return Compare(a, b) < 0; });
  for (size_t i = 1; i < values.size(); ++i) {
    EXPECT_LE(Compare(values[i - 1], values[i]), 0);
    EXPECT_EQ(Compare(values[i - 1], values[i]), -Compare(values[i], values[i - 1]));
  }
}

TEST(ValueTest, ObjectsAreSortedAndUnique) {
  Value o = Obj({{"b", Value::Int64(2)}, {"a", Value::Int64(1)}});
  ASSERT_EQ(o.object().size(), 2u);
  EXPECT_EQ(o.object()[0].first, "a");
  EXPECT_EQ(o.Get("b").int64(), 2);
  EXPECT_TRUE(o.Get("c").is_undefined());
  EXPECT_EQ(Value::MakeObject({{"a", Value::Null()}, {"a", Value::Null()}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValueTest, PathsFollowNestedObjects) {
  Value doc = Obj({{"a", Obj({{"b", Obj({{"c", Value::String("deep")}})}})}, {"x", Value::Int64(1)}});
  EXPECT_EQ(doc.GetPath("a.b.c").string(), "deep");
  EXPECT_TRUE(doc.GetPath("a.b.z").is_undefined());
  EXPECT_TRUE(doc.GetPath("x.y").is_undefined());  // through a non-object
  EXPECT_EQ(doc.GetPath("x").int64(), 1);
}

TEST(ValueTest, ConvexSizeMatchesTheLibrary) {
  EXPECT_EQ(ConvexSize(Value::Null()), 1u);
  EXPECT_EQ(ConvexSize(Value::Int64(5)), 9u);
  EXPECT_EQ(ConvexSize(Value::String("\xc3\xa9")), 4u);
  EXPECT_EQ(ConvexSize(Value::MakeArray({Value::Boolean(true), Value::Float64(1)})), 2u + 1 + 9);
  EXPECT_EQ(ConvexSize(Obj({{"ab", Value::Null()}})), 2u + 2 + 1 + 1);
}

}  // namespace
}  // namespace isobar::storage
