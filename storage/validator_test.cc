#include "storage/validator.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

using ::isobar::storage::testing::ParseForTest;
using ::testing::HasSubstr;

Validator Parse(absl::string_view json) {
  ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Validator> v = Validator::Parse(ParseForTest(json, plain));
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : Validator::Any();
}

const DocumentId kMessage{TableNumber(10001), {}};
const DocumentId kUser{TableNumber(10002), {}};

std::optional<std::string> Tables(const DocumentId& id) {
  if (id.table == kMessage.table) return "messages";
  if (id.table == kUser.table) return "users";
  return std::nullopt;
}

absl::Status Check(const Validator& v, absl::string_view value_json) { return v.Check(ParseForTest(value_json), Tables); }

constexpr char kArgs[] =
    R"({"type":"object","value":{"body":{"fieldType":{"type":"string"},"optional":false},)"
    R"("n":{"fieldType":{"type":"bigint"},"optional":true},)"
    R"("tags":{"fieldType":{"type":"array","value":{"type":"union","value":[{"type":"literal","value":"a"},{"type":"null"}]}},"optional":true}}})";

TEST(ValidatorTest, ObjectsMatchTheirFieldsExactly) {
  Validator v = Parse(kArgs);
  EXPECT_TRUE(Check(v, R"({"body":"hi"})").ok());
  EXPECT_TRUE(Check(v, R"({"body":"hi","n":{"$integer":"AQAAAAAAAAA="},"tags":["a",null]})").ok());

  absl::Status missing = Check(v, R"({"n":{"$integer":"AQAAAAAAAAA="}})");
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.message(), HasSubstr("Object is missing the required field `body`"));
  EXPECT_THAT(missing.message(), HasSubstr("Validator: v.object({body: v.string(), n: v.optional(v.int64()),"));

  EXPECT_THAT(Check(v, R"({"body":"hi","x":1})").message(),
              HasSubstr("Object contains extra field `x` that is not in the validator."));
  // Values shown as Convex shows them: Rust's numbers, bare keys.
  EXPECT_THAT(Check(v, R"({"body":"hi","x":1})").message(), HasSubstr("\n\nObject: {body: \"hi\", x: 1.0}\n"));
  EXPECT_EQ(std::string(Check(v, R"({"body":1})").message()),
            "Value does not match validator.\nPath: .body\nValue: 1.0\nValidator: v.string()");
  EXPECT_THAT(Check(v, R"({"body":"x","tags":["b"]})").message(), HasSubstr("Path: .tags[0]\nValue: \"b\""));
  // A float is not an int64 and the other way round.
  EXPECT_THAT(Check(v, R"({"body":"x","n":1})").message(), HasSubstr("Validator: v.int64()"));
}

TEST(ValidatorTest, EmptyArgsMeanNoFieldsAndAnyMeansAnything) {
  EXPECT_TRUE(Check(Parse(R"({"type":"object","value":{}})"), "{}").ok());
  EXPECT_FALSE(Check(Parse(R"({"type":"object","value":{}})"), R"({"a":1})").ok());
  EXPECT_TRUE(Check(Parse(R"({"type":"any"})"), R"({"a":[1,{"b":null}]})").ok());
  EXPECT_TRUE(Check(Parse(R"({"type":"map"})"), R"(3)").ok());
}

TEST(ValidatorTest, IdsMustBelongToTheirTable) {
  Validator v = Parse(R"({"type":"id","tableName":"messages"})");
  EXPECT_TRUE(v.Check(Value::String(EncodeDocumentId(kMessage)), Tables).ok());
  // Convex's words for an id of another table (the path follows the sentence directly).
  EXPECT_EQ(v.Check(Value::String(EncodeDocumentId(kUser)), Tables).message(),
            absl::StrCat("Found ID \"", EncodeDocumentId(kUser), "\" from table `users`, which does not match the table ",
                         "name in validator `v.id(\"messages\")`."));
  EXPECT_THAT(Parse(R"({"type":"object","value":{"m":{"fieldType":{"type":"id","tableName":"messages"},"optional":false}}})")
                  .Check(Value::MakeSortedObject({{"m", Value::String(EncodeDocumentId(kUser))}}), Tables)
                  .message(),
              HasSubstr("`v.id(\"messages\")`.Path: .m"));
  EXPECT_FALSE(v.Check(Value::String(EncodeDocumentId(DocumentId{TableNumber(10009), {}})), Tables).ok());
  EXPECT_FALSE(v.Check(Value::String("not an id"), Tables).ok());
}

TEST(ValidatorTest, IndexFieldsTheDocumentsCanHave) {
  Validator doc = Parse(R"({"type":"union","value":[)"
                        R"({"type":"object","value":{"a":{"fieldType":{"type":"object","value":{"b":{"fieldType":{"type":"string"},"optional":true}}},"optional":false}}},)"
                        R"({"type":"object","value":{"c":{"fieldType":{"type":"any"},"optional":false}}}]})");
  auto can = [&](std::vector<std::string> path) { return doc.CanContainField(path); };
  EXPECT_TRUE(can({"a"}));
  EXPECT_TRUE(can({"a", "b"}));
  EXPECT_FALSE(can({"a", "x"}));
  EXPECT_FALSE(can({"a", "b", "deeper"}));  // a string has no fields
  EXPECT_TRUE(can({"c", "anything", "below"}));
  EXPECT_FALSE(can({"nope"}));
  EXPECT_TRUE(Validator::Any().CanContainField(std::vector<std::string>{"x"}));
}

TEST(ValidatorTest, LiteralsRecordsAndNumbers) {
  Validator one = Parse(R"({"type":"literal","value":{"$integer":"AQAAAAAAAAA="}})");
  EXPECT_TRUE(Check(one, R"({"$integer":"AQAAAAAAAAA="})").ok());
  EXPECT_FALSE(Check(one, "1").ok());  // 1.0 is not 1n
  EXPECT_EQ(one.ToString(), R"(v.literal({"$integer":"AQAAAAAAAAA="}))");

  Validator record =
      Parse(R"({"type":"record","keys":{"type":"string"},"values":{"fieldType":{"type":"number"},"optional":false}})");
  EXPECT_TRUE(Check(record, R"({"a":1,"b":{"$float":"AAAAAAAA+H8="}})").ok());  // NaN is a number
  EXPECT_THAT(Check(record, R"({"a":"x"})").message(), HasSubstr("Path: .a"));
}

TEST(ValidatorTest, MalformedValidatorsAreRefused) {
  ConvexJsonOptions plain;
  plain.plain = true;
  for (const char* json : {R"({"type":"nope"})", R"({"kind":"string"})", R"({"type":"union","value":3})",
                           R"({"type":"object","value":{"a":{"optional":false}}})", R"([1])",
                           R"({"type":"literal","value":[1]})"}) {
    EXPECT_EQ(Validator::Parse(ParseForTest(json, plain)).status().code(), absl::StatusCode::kInvalidArgument) << json;
  }
}

}  // namespace
}  // namespace isobar::storage
