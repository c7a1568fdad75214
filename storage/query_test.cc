// The query engine on a real PostgreSQL: parsing, range compilation against brute force, filters,
// limits, pagination and cursors.
#include "storage/query.h"
#include "storage/query_testing.h"

#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/cursor.h"
#include "storage/database.h"
#include "storage/paginate.h"
#include "storage/pg_testing.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Value Plain(absl::string_view json) {
  ConvexJsonOptions options;
  options.plain = true;
  return testing::ParseForTest(json, options);
}

Query Parse(absl::string_view json) {
  absl::StatusOr<Query> q = ParseQuery(Plain(json));
  EXPECT_TRUE(q.ok()) << q.status() << " " << json;
  return q.ok() ? *q : Query();
}

TEST(QueryParseTest, TheLibrarysShapes) {
  // The observed example of CONVEX_ABI.md §2.3.
  Query q = Parse(R"({"source":{"type":"IndexRange","indexName":"messages.by_author","range":[{"type":"Eq","fieldPath":"author","value":"ann"}],"order":"desc"},"operators":[{"filter":{"$and":[{"$neq":[{"$field":"body"},{"$literal":"x"}]},{"$gte":[{"$field":"n"},{"$literal":{"$integer":"AQAAAAAAAAA="}}]}]}},{"limit":10}]})");
  EXPECT_EQ(q.table, "messages");
  EXPECT_EQ(q.index, "by_author");
  EXPECT_EQ(q.order, Order::kDesc);
  ASSERT_EQ(q.range.size(), 1u);
  EXPECT_EQ(q.range[0].value.string(), "ann");
  ASSERT_EQ(q.operators.size(), 2u);
  EXPECT_EQ(q.operators[0].filter->args[1]->args[1]->literal.int64(), 1);
  EXPECT_EQ(*q.operators[1].limit, 10u);

  Query scan = Parse(R"({"source":{"type":"FullTableScan","tableName":"t","order":null},"operators":[]})");
  EXPECT_TRUE(scan.full_table_scan);
  EXPECT_EQ(scan.index, "by_creation_time");
}

TEST(QueryParseTest, MalformedQueriesAreRefused) {
  for (const char* bad : {
           R"({"source":{"type":"Nope"}})", R"({"source":{"type":"FullTableScan"}})",
           R"({"source":{"type":"FullTableScan","tableName":"bad name"}})",
           R"({"source":{"type":"IndexRange","indexName":"noindex","range":[]}})",
           R"({"source":{"type":"FullTableScan","tableName":"t","order":"sideways"}})",
           R"({"source":{"type":"FullTableScan","tableName":"t"},"operators":[{"limit":-1}]})",
           R"({"source":{"type":"FullTableScan","tableName":"t"},"operators":[{"filter":{"$eq":[1]}}]})",
           R"({"source":{"type":"FullTableScan","tableName":"t"},"operators":[{"filter":{"$exec":"rm"}}]})",
           R"({"source":{"type":"FullTableScan","tableName":"t"},"operators":[{"filter":{"$literal":{"$set":[]}}}]})",
       }) {
    EXPECT_EQ(ParseQuery(Plain(bad)).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseQuery(Plain(R"({"source":{"type":"Search","indexName":"t.s","filters":[]}})")).status().code(),
            absl::StatusCode::kUnimplemented);
  std::string many = R"({"source":{"type":"FullTableScan","tableName":"t"},"operators":[)";
  for (int i = 0; i < 257; ++i) absl::StrAppend(&many, i ? "," : "", R"({"limit":1})");
  EXPECT_EQ(ParseQuery(Plain(many + "]}")).status().code(), absl::StatusCode::kInvalidArgument);
}

absl::StatusOr<Value> Eval(absl::string_view expr_json, absl::string_view doc_json) {
  Query q = Parse(absl::StrCat(R"({"source":{"type":"FullTableScan","tableName":"t"},"operators":[{"filter":)",
                               expr_json, "}]}"));
  return Evaluate(*q.operators[0].filter, *ParseConvexJson(doc_json));
}

TEST(QueryEvalTest, TheFilterLanguage) {
  const char* doc = R"({"n":{"$integer":"BQAAAAAAAAA="},"x":2.5,"s":"b","nested":{"k":true}})";
  auto is = [&](absl::string_view expr, bool expected) {
    absl::StatusOr<Value> v = Eval(expr, doc);
    ASSERT_TRUE(v.ok()) << v.status() << " " << expr;
    EXPECT_EQ(v->boolean(), expected) << expr;
  };
  is(R"({"$eq":[{"$field":"s"},{"$literal":"b"}]})", true);
  is(R"({"$gt":[{"$field":"n"},{"$literal":{"$integer":"BAAAAAAAAAA="}}]})", true);
  is(R"({"$lt":[{"$field":"n"},{"$literal":100}]})", true);  // int64 sorts below every float
  is(R"({"$eq":[{"$field":"missing"},{"$literal":{"$undefined":null}}]})", true);
  is(R"({"$lt":[{"$field":"missing"},{"$literal":null}]})", true);  // undefined < null
  is(R"({"$eq":[{"$field":"nested.k"},{"$literal":true}]})", true);
  is(R"({"$and":[{"$eq":[{"$field":"s"},{"$literal":"b"}]},{"$not":{"$eq":[{"$field":"x"},{"$literal":1}]}}]})", true);
  is(R"({"$or":[]})", false);
  is(R"({"$eq":[{"$mul":[{"$field":"x"},{"$literal":2}]},{"$literal":5}]})", true);
  is(R"({"$eq":[{"$mod":[{"$field":"n"},{"$literal":{"$integer":"AgAAAAAAAAA="}}]},{"$literal":{"$integer":"AQAAAAAAAAA="}}]})", true);
  is(R"({"$eq":[{"$neg":{"$field":"n"}},{"$literal":{"$integer":"+/////////8="}}]})", true);

  for (const char* error : {
           R"({"$add":[{"$field":"n"},{"$field":"x"}]})",                              // int64 + float64
           R"({"$div":[{"$field":"n"},{"$literal":{"$integer":"AAAAAAAAAAA="}}]})",  // by zero
           R"({"$add":[{"$literal":{"$integer":"/////////38="}},{"$literal":{"$integer":"AQAAAAAAAAA="}}]})",  // overflow
           R"({"$and":[{"$field":"s"}]})", R"({"$not":{"$literal":1}})", R"({"$neg":{"$literal":"s"}})",
       }) {
    absl::Status status = Eval(error, doc).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << error;
    EXPECT_FALSE(status.message().empty()) << error;
  }
  // Convex's words for a division by zero.
  EXPECT_EQ(Eval(R"({"$div":[{"$field":"n"},{"$literal":{"$integer":"AAAAAAAAAAA="}}]})", doc).status().message(),
            "Cannot divide 5 by zero");
}

TEST(CompileRangeTest, ConvexsRules) {
  IndexInfo index{IndexId(3), TableNumber(10001), "by_a_b", {"a", "b", "_creationTime", "_id"}, true};
  auto compile = [&](absl::string_view range_json) {
    Query q = Parse(absl::StrCat(R"({"source":{"type":"IndexRange","indexName":"t.by_a_b","range":)", range_json, "}}"));
    return CompileRange(index, "t.by_a_b", q.range);
  };
  EXPECT_TRUE(compile("[]").ok());
  EXPECT_TRUE(compile(R"([{"type":"Eq","fieldPath":"a","value":1},{"type":"Gt","fieldPath":"b","value":2},{"type":"Lte","fieldPath":"b","value":9}])").ok());
  // Equalities in any order, and a bound before them, as Convex accepts them: the same interval.
  EXPECT_EQ(*compile(R"([{"type":"Eq","fieldPath":"b","value":2},{"type":"Eq","fieldPath":"a","value":1}])"),
            *compile(R"([{"type":"Eq","fieldPath":"a","value":1},{"type":"Eq","fieldPath":"b","value":2}])"));
  EXPECT_EQ(*compile(R"([{"type":"Gt","fieldPath":"b","value":2},{"type":"Eq","fieldPath":"a","value":1}])"),
            *compile(R"([{"type":"Eq","fieldPath":"a","value":1},{"type":"Gt","fieldPath":"b","value":2}])"));
  for (const char* bad : {
           R"([{"type":"Eq","fieldPath":"b","value":1}])",  // not a prefix
           R"([{"type":"Gt","fieldPath":"a","value":1},{"type":"Eq","fieldPath":"b","value":1}])",
           R"([{"type":"Gt","fieldPath":"a","value":1},{"type":"Lt","fieldPath":"b","value":2}])",
           R"([{"type":"Eq","fieldPath":"zzz","value":1}])",
       }) {
    absl::Status status = compile(bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("t.by_a_b")) << bad;
  }
  EXPECT_EQ(compile(R"([{"type":"Gt","fieldPath":"a","value":1},{"type":"Gt","fieldPath":"a","value":2}])").status().message(),
            "Already defined lower bound in index range. Can't add \"a\" > 2.");
  EXPECT_EQ(compile(R"([{"type":"Eq","fieldPath":"b","value":1}])").status().message(),
            "Tried to query index t.by_a_b but the query didn't use the index fields in order.\nIndex fields: [\"a\", "
            "\"b\", \"_creationTime\"]\nQuery fields: [\"b\"]\nFirst incorrect field: \"b\"\nFor more information "
            "see https://docs.convex.dev/using/indexes.");
}

class QueryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Open().ok());
    TableNumber table = db_.catalog().GetOrCreateTable(deployment_, "msgs")->number;
    ASSERT_TRUE(db_.catalog().CreateIndex(deployment_, table, "by_author_n", {"author", "n"}, true).ok());
    db_.schemas().Invalidate(table);
  }

  void InsertAll(const std::vector<std::pair<std::string, double>>& rows) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    for (const auto& [author, n] : rows) {
      Value fields = Value::MakeSortedObject({{"author", Value::String(author)}, {"n", Value::Float64(n)}});
      ASSERT_TRUE(txn->Insert("msgs", fields).ok());
    }
    ASSERT_TRUE(db_.Commit(*txn).ok());
  }

  std::vector<double> Run(absl::string_view query_json) {
    std::vector<double> out;
    for (const Value& doc : testing::RunQueryForTest(db_, query_json)) out.push_back(doc.Get("n").float64());
    return out;
  }

  PgPool& pool_ = testing::SharedPostgres().pool();
  DeploymentId deployment_ = testing::NewDeployment(pool_);
  Database db_{pool_, deployment_};
};

TEST_F(QueryEngineTest, IndexRangesAgreeWithBruteForce) {
  std::mt19937 rng(11);
  // Authors whose encodings are byte prefixes of each other's ("a" of "a\0b"): Eq must not take
  // "a\0b" for "a" (it did, with PrefixSuccessor as the range's end).
  const std::vector<std::pair<std::string, std::string>> authors = {
      {"a", "a"}, {std::string("a\0", 2), "a\\u0000"}, {std::string("a\0b", 3), "a\\u0000b"}, {"b", "b"}, {"c", "c"}};
  std::vector<std::pair<std::string, double>> rows;
  for (int i = 0; i < 120; ++i) rows.emplace_back(authors[rng() % authors.size()].first, rng() % 20);
  InsertAll(rows);
  for (int trial = 0; trial < 60; ++trial) {
    const auto& [author, author_json] = authors[rng() % authors.size()];
    double lo = rng() % 20, hi = rng() % 20;
    bool lo_inclusive = rng() % 2, hi_inclusive = rng() % 2, desc = rng() % 2;
    std::string query = absl::StrCat(
        R"({"source":{"type":"IndexRange","indexName":"msgs.by_author_n","range":[{"type":"Eq","fieldPath":"author","value":")",
        author_json, R"("},{"type":")", lo_inclusive ? "Gte" : "Gt", R"(","fieldPath":"n","value":)", lo, R"(},{"type":")",
        hi_inclusive ? "Lte" : "Lt", R"(","fieldPath":"n","value":)", hi, R"(}],"order":")", desc ? "desc" : "asc", R"("}})");
    std::vector<double> expected;
    for (const auto& [a, n] : rows) {
      if (a == author && (lo_inclusive ? n >= lo : n > lo) && (hi_inclusive ? n <= hi : n < hi)) expected.push_back(n);
    }
    std::sort(expected.begin(), expected.end());
    if (desc) std::reverse(expected.begin(), expected.end());
    EXPECT_EQ(Run(query), expected) << query;
  }
  // Bounds on the string field itself: "a\0b" is greater than "a", so gt "a" takes it and lte "a" does not.
  std::vector<std::pair<std::string, double>> by_key = rows;
  std::sort(by_key.begin(), by_key.end());  // the index's order: author, then n
  for (const auto& [bound, bound_json] : authors) {
    for (const char* kind : {"Gt", "Gte", "Lt", "Lte"}) {
      const std::string query = absl::StrCat(
          R"({"source":{"type":"IndexRange","indexName":"msgs.by_author_n","range":[{"type":")", kind,
          R"(","fieldPath":"author","value":")", bound_json, R"("}]}})");
      std::vector<double> expected;
      for (const auto& [a, n] : by_key) {
        const int c = a.compare(bound);
        const std::string k = kind;
        if (k == "Gt" ? c > 0 : k == "Gte" ? c >= 0 : k == "Lt" ? c < 0 : c <= 0) expected.push_back(n);
      }
      EXPECT_EQ(Run(query), expected) << query;
    }
  }
}

TEST_F(QueryEngineTest, FiltersLimitsAndMissingThings) {
  InsertAll({{"ann", 1}, {"bob", 2}, {"ann", 3}, {"cy", 4}, {"ann", 5}});
  EXPECT_THAT(Run(R"({"source":{"type":"FullTableScan","tableName":"msgs","order":"desc"},"operators":[{"filter":{"$eq":[{"$field":"author"},{"$literal":"ann"}]}},{"limit":2}]})"),
              ElementsAre(5, 3));
  EXPECT_THAT(Run(R"({"source":{"type":"FullTableScan","tableName":"msgs"},"operators":[{"limit":0}]})"), ElementsAre());
  EXPECT_THAT(Run(R"({"source":{"type":"FullTableScan","tableName":"nothing_here"},"operators":[]})"), ElementsAre());
  std::unique_ptr<Transaction> txn = db_.Begin();
  absl::Status missing = QueryStream::Open(*txn, Parse(R"({"source":{"type":"IndexRange","indexName":"msgs.by_nothing","range":[]}})")).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "Index msgs.by_nothing not found.");
  // A table that does not exist reads as empty through its system indexes; it has no other index
  // (Convex's message).
  for (const char* index : {"by_id", "by_creation_time"}) {
    EXPECT_THAT(Run(absl::StrCat(R"({"source":{"type":"IndexRange","indexName":"ghosts.)", index, R"(","range":[]}})")),
                ElementsAre())
        << index;
  }
  absl::Status ghost =
      QueryStream::Open(*txn, Parse(R"({"source":{"type":"IndexRange","indexName":"ghosts.by_author_n","range":[]}})"))
          .status();
  EXPECT_EQ(ghost.message(), "Index ghosts.by_author_n not found.");
}

// by_id has no index entries of its own (it is served from the document log): every bound shape
// agrees with a brute-force filter over the ids, in both orders, after deletes and updates.
TEST_F(QueryEngineTest, ByIdRangesAgreeWithBruteForce) {
  std::vector<std::pair<std::string, double>> rows;
  for (int i = 0; i < 60; ++i) rows.emplace_back("a", i);
  InsertAll(rows);
  std::vector<std::string> ids;
  for (const Value& doc : testing::RunQueryForTest(db_, R"({"source":{"type":"FullTableScan","tableName":"msgs"}})")) {
    ids.push_back(doc.Get("_id").string());
  }
  ASSERT_EQ(ids.size(), 60u);
  {
    std::unique_ptr<Transaction> txn = db_.Begin();
    for (int i = 0; i < 60; i += 7) ASSERT_TRUE(txn->Delete(*DecodeDocumentId(ids[static_cast<size_t>(i)])).ok());
    ASSERT_TRUE(txn->Patch(*DecodeDocumentId(ids[1]), Value::MakeSortedObject({{"n", Value::Float64(100)}})).ok());
    ASSERT_TRUE(db_.Commit(*txn).ok());
  }
  std::map<std::string, double> live;
  for (int i = 0; i < 60; ++i) {
    if (i % 7 != 0) live[ids[static_cast<size_t>(i)]] = i == 1 ? 100 : i;
  }
  std::vector<std::string> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end());
  std::mt19937 rng(5);
  // Bounds: existing ids, deleted ones, and strings that are no id at all.
  std::vector<std::string> bounds = {sorted[3], sorted[20], sorted[41], "", "0", "zzzzzzzz", sorted[10] + "0",
                                     sorted[30].substr(0, 5)};
  for (int trial = 0; trial < 60; ++trial) {
    const std::string& lo = bounds[rng() % bounds.size()];
    const std::string& hi = bounds[rng() % bounds.size()];
    const int shape = static_cast<int>(rng() % 5);  // eq, gt/lt, gte/lte, gt only, none
    const bool desc = rng() % 2;
    std::string range;
    std::vector<double> expected;
    for (const auto& [id, n] : live) {
      bool in = true;
      switch (shape) {
        case 0: in = id == lo; break;
        case 1: in = id > lo && id < hi; break;
        case 2: in = id >= lo && id <= hi; break;
        case 3: in = id > lo; break;
        default: break;
      }
      if (in) expected.push_back(n);
    }
    if (desc) std::reverse(expected.begin(), expected.end());
    auto bound = [](const char* type, const std::string& value) {
      return absl::StrCat(R"({"type":")", type, R"(","fieldPath":"_id","value":")", value, R"("})");
    };
    switch (shape) {
      case 0: range = bound("Eq", lo); break;
      case 1: range = absl::StrCat(bound("Gt", lo), ",", bound("Lt", hi)); break;
      case 2: range = absl::StrCat(bound("Gte", lo), ",", bound("Lte", hi)); break;
      case 3: range = bound("Gt", lo); break;
      default: break;
    }
    const std::string query = absl::StrCat(R"({"source":{"type":"IndexRange","indexName":"msgs.by_id","range":[)", range,
                                           R"(],"order":")", desc ? "desc" : "asc", R"("}})");
    EXPECT_EQ(Run(query), expected) << query;
  }
  // take(n) in id order, as paginating by _id does.
  std::vector<double> first_three;
  for (auto it = live.begin(); first_three.size() < 3; ++it) first_three.push_back(it->second);
  EXPECT_EQ(Run(R"({"source":{"type":"IndexRange","indexName":"msgs.by_id","range":[]},"operators":[{"limit":3}]})"),
            first_three);
}

TEST_F(QueryEngineTest, PaginationAcrossPagesWithAuthenticatedCursors) {
  std::vector<std::pair<std::string, double>> rows;
  for (int i = 0; i < 25; ++i) rows.emplace_back(i % 2 ? "odd" : "even", i);
  InsertAll(rows);
  std::string secret(32, 'k');
  Query all = Parse(R"({"source":{"type":"FullTableScan","tableName":"msgs","order":"asc"},"operators":[]})");
  std::vector<double> seen;
  std::optional<std::string> cursor;
  std::vector<std::string> cursors;
  for (int page = 0; page < 5; ++page) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    absl::StatusOr<PageResult> r = QueryPage(*txn, PageRequest{all, cursor, std::nullopt, 10}, secret);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const Value& doc : r->page) seen.push_back(doc.Get("n").float64());
    cursors.push_back(r->continue_cursor);
    cursor = r->continue_cursor;
    if (r->is_done) break;
  }
  ASSERT_EQ(seen.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  EXPECT_EQ(cursors.size(), 3u);

  // Re-running the second page with its end cursor returns the same documents, ignoring pageSize.
  std::unique_ptr<Transaction> txn = db_.Begin();
  absl::StatusOr<PageResult> again = QueryPage(*txn, PageRequest{all, cursors[0], cursors[1], 1}, secret);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->page.size(), 10u);
  EXPECT_EQ(again->page[0].Get("n").float64(), 10);
  EXPECT_EQ(again->continue_cursor, cursors[1]);

  // Forged, foreign and other-query cursors are refused.
  std::string forged = cursors[0];
  forged[forged.size() / 2] = forged[forged.size() / 2] == 'A' ? 'B' : 'A';
  Query odd = Parse(R"({"source":{"type":"IndexRange","indexName":"msgs.by_author_n","range":[{"type":"Eq","fieldPath":"author","value":"odd"}]}})");
  for (const auto& [query, cursor_text, secret_used] :
       {std::tuple<Query, std::string, std::string>{all, forged, secret}, {odd, cursors[0], secret},
        {all, cursors[0], std::string(32, 'x')}, {all, "not-a-cursor", secret}}) {
    absl::Status status = QueryPage(*txn, PageRequest{query, cursor_text, std::nullopt, 10}, secret_used).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("Invalid cursor"));
  }
  EXPECT_EQ(QueryPage(*txn, PageRequest{all, std::nullopt, std::nullopt, 0}, secret).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QueryPage(*txn, PageRequest{all, std::nullopt, std::nullopt, kMaxPageSize + 1}, secret).status().code(),
            absl::StatusCode::kInvalidArgument);

  // A read limit splits the page.
  absl::StatusOr<PageResult> split = QueryPage(*txn, PageRequest{all, std::nullopt, std::nullopt, 10, 4}, secret);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->page.size(), 4u);
  EXPECT_EQ(split->page_status, "SplitRequired");
  EXPECT_FALSE(split->is_done);
}

TEST_F(QueryEngineTest, DescendingPagesWithFilters) {
  std::vector<std::pair<std::string, double>> rows;
  for (int i = 0; i < 12; ++i) rows.emplace_back("x", i);
  InsertAll(rows);
  std::string secret(32, 's');
  Query evens = Parse(R"({"source":{"type":"FullTableScan","tableName":"msgs","order":"desc"},"operators":[{"filter":{"$eq":[{"$mod":[{"$field":"n"},{"$literal":2}]},{"$literal":0}]}}]})");
  std::vector<double> seen;
  std::optional<std::string> cursor;
  for (int page = 0; page < 10; ++page) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    PageResult r = *QueryPage(*txn, PageRequest{evens, cursor, std::nullopt, 4}, secret);
    for (const Value& doc : r.page) seen.push_back(doc.Get("n").float64());
    cursor = r.continue_cursor;
    if (r.is_done) break;
  }
  EXPECT_THAT(seen, ElementsAre(10, 8, 6, 4, 2, 0));
}

}  // namespace
}  // namespace isobar::storage
