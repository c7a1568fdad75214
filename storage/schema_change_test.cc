// Index changes on a live database (real PostgreSQL): a new index over existing documents is
// backfilled and agrees with a scan while writers keep committing; a dropped index is gone and its
// name can be used again; a writer that began before the change is refused and succeeds when rerun;
// schema violations name the offending documents.
#include "storage/schema_change.h"

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/pg_testing.h"
#include "storage/query.h"
#include "storage/query_testing.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

using ::testing::HasSubstr;

class SchemaChangeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.Open().ok()); }

  absl::Status Insert(const std::string& color, double n) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    Value fields = Value::MakeSortedObject({{"color", Value::String(color)}, {"n", Value::Float64(n)}});
    absl::StatusOr<DocumentId> id = txn->Insert("things", fields);
    if (!id.ok()) return id.status();
    return db_.Commit(*txn).status();
  }

  // The `n`s of things of `color` through the index, in index order.
  std::vector<double> ByColor(const std::string& color) {
    std::vector<double> out;
    for (const Value& doc : testing::RunQueryForTest(
             db_, absl::StrCat(R"({"source":{"type":"IndexRange","indexName":"things.by_color","range":[{"type":"Eq","fieldPath":"color","value":")",
                               color, R"("}]}})"))) {
      out.push_back(doc.Get("n").float64());
    }
    return out;
  }

  PgPool& pool_ = testing::SharedPostgres().pool();
  DeploymentId deployment_ = testing::NewDeployment(pool_);
  Database db_{pool_, deployment_};
};

TEST_F(SchemaChangeTest, ANewIndexCoversOldAndConcurrentDocuments) {
  for (int i = 0; i < 700; ++i) ASSERT_TRUE(Insert(i % 2 == 0 ? "red" : "blue", i).ok());
  // Writers keep inserting while the index is built; they retry when the schema change refuses them.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0}, refused{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        absl::Status status = Insert("red", 1000 + w * 100000 + i);
        if (status.ok()) {
          ++written;
        } else if (absl::IsAborted(status)) {
          ++refused;
        } else {
          ADD_FAILURE() << status;
          return;
        }
      }
    });
  }
  while (written.load() < 20) std::this_thread::yield();
  absl::StatusOr<IndexInfo> index = AddIndex(db_, "things", "by_color", {"color"});
  ASSERT_TRUE(index.ok()) << index.status();
  const int at_ready = written.load();
  while (written.load() < at_ready + 20) std::this_thread::yield();
  stop = true;
  for (std::thread& t : writers) t.join();

  std::vector<double> red = ByColor("red");
  EXPECT_EQ(red.size(), 350u + static_cast<size_t>(written.load()));
  std::vector<double> sorted = red;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a document is listed twice";
  EXPECT_EQ(ByColor("blue").size(), 350u);
  std::printf("backfilled 700 documents while %d were written (%d refused and retried)\n", written.load(),
              refused.load());
}

TEST_F(SchemaChangeTest, DroppedIndexesDisappearAndTheirNamesComeBack) {
  ASSERT_TRUE(Insert("red", 1).ok());
  absl::StatusOr<IndexInfo> index = AddIndex(db_, "things", "by_color", {"color"});
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_TRUE(DropIndex(db_, *index).ok());
  std::unique_ptr<Transaction> txn = db_.Begin();
  ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Query> query = ParseQuery(testing::ParseForTest(
      R"({"source":{"type":"IndexRange","indexName":"things.by_color","range":[]}})", plain));
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(QueryStream::Open(*txn, *query).status().code(), absl::StatusCode::kNotFound);
  // Same name, other fields, new id: none of the old entries show through.
  absl::StatusOr<IndexInfo> again = AddIndex(db_, "things", "by_color", {"n"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(again->id.value(), index->id.value());
}

TEST_F(SchemaChangeTest, AWriterThatBeganBeforeTheChangeRunsAgain) {
  ASSERT_TRUE(Insert("red", 1).ok());
  std::unique_ptr<Transaction> before = db_.Begin();
  ASSERT_TRUE(before->Insert("things", Value::MakeSortedObject({{"color", Value::String("red")}, {"n", Value::Float64(2)}})).ok());
  ASSERT_TRUE(AddIndex(db_, "things", "by_color", {"color"}).ok());
  absl::StatusOr<Timestamp> committed = db_.Commit(*before);
  EXPECT_EQ(committed.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(committed.status().message(), HasSubstr("schema changed"));
  ASSERT_TRUE(Insert("red", 2).ok());
  EXPECT_EQ(ByColor("red"), (std::vector<double>{1, 2}));
}

TEST_F(SchemaChangeTest, ViolationsNameTheDocuments) {
  ASSERT_TRUE(Insert("red", 1).ok());
  ASSERT_TRUE(Insert("green", 2).ok());
  ASSERT_TRUE(Insert("green", 3).ok());
  ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Validator> validator = Validator::Parse(testing::ParseForTest(
      R"({"type":"object","value":{"color":{"fieldType":{"type":"union","value":[{"type":"literal","value":"red"},{"type":"literal","value":"blue"}]},"optional":false},"n":{"fieldType":{"type":"number"},"optional":false}}})",
      plain));
  ASSERT_TRUE(validator.ok()) << validator.status();
  absl::StatusOr<std::vector<SchemaViolation>> found = FindViolations(db_, "things", *validator, nullptr, 1);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_THAT((*found)[0].message, HasSubstr("Path: .color"));
  EXPECT_TRUE(DecodeDocumentId((*found)[0].id).ok());
  found = FindViolations(db_, "things", *validator, nullptr, 5);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->size(), 2u);
  found = FindViolations(db_, "no_such_table", *validator, nullptr, 5);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->empty());
}

}  // namespace
}  // namespace isobar::storage
