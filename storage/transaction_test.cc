// Transactions on a real PostgreSQL: read-your-own-writes (point reads and scans), Convex's write
// rules, read sets, and limits.
#include "storage/transaction.h"

#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/pg_testing.h"
#include "storage/value_testing.h"

namespace isobar::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Value Json(absl::string_view json) {
  ConvexJsonOptions options;
  options.allow_undefined = true;
  return testing::ParseForTest(json, options);
}

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.Open().ok()); }

  DocumentId InsertCommitted(absl::string_view table, absl::string_view json) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    absl::StatusOr<DocumentId> id = txn->Insert(table, Json(json));
    EXPECT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(db_.Commit(*txn).ok());
    return *id;
  }

  std::vector<double> ScanField(Transaction& txn, absl::string_view table, const char* field, Order order,
                                size_t limit = 100) {
    std::shared_ptr<const TableSchema> schema = *db_.schemas().ByName(table, false);
    absl::StatusOr<ScanResult> r = txn.Scan(schema, schema->by_creation_time(), {}, order, limit);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<double> out;
    for (const Value& doc : r->documents) out.push_back(doc.Get(field).float64());
    return out;
  }

  PgPool& pool_ = testing::SharedPostgres().pool();
  Database db_{pool_, testing::NewDeployment(pool_)};
};

TEST_F(TransactionTest, InsertAssignsSystemFieldsAndIsReadableAtOnce) {
  std::unique_ptr<Transaction> txn = db_.Begin();
  absl::StatusOr<DocumentId> a = txn->Insert("messages", Json(R"({"body":"hi"})"));
  absl::StatusOr<DocumentId> b = txn->Insert("messages", Json(R"({"body":"there"})"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->table.value(), kFirstUserTableNumber);
  std::optional<Value> doc = *txn->Get(*a);
  ASSERT_TRUE(doc.has_value());
  EXPECT_EQ(doc->Get("body").string(), "hi");
  EXPECT_EQ(doc->Get("_id").string(), EncodeDocumentId(*a));
  const double t_a = doc->Get("_creationTime").float64();
  const double t_b = (*txn->Get(*b))->Get("_creationTime").float64();
  EXPECT_EQ(t_b, std::nextafter(t_a, INFINITY));  // strictly increasing within a transaction
  // Wall-clock milliseconds (not the snapshot, which is 0 in a fresh deployment).
  EXPECT_NEAR(t_a, absl::ToUnixMillis(absl::Now()), 60000);
  EXPECT_GT(t_a, static_cast<double>(txn->begin_ts().value()) / 1e6);

  ASSERT_TRUE(db_.Commit(*txn).ok());
  std::unique_ptr<Transaction> later = db_.Begin();
  std::optional<Value> stored = *later->Get(*a);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(ToConvexJson(*stored), ToConvexJson(*doc));
}

TEST_F(TransactionTest, PatchReplaceDeleteFollowConvexRules) {
  DocumentId id = InsertCommitted("notes", R"({"a":1,"b":2})");
  std::unique_ptr<Transaction> txn = db_.Begin();
  absl::StatusOr<Value> patched = txn->Patch(id, Json(R"({"b":{"$undefined":null},"c":3})"));
  ASSERT_TRUE(patched.ok()) << patched.status();
  EXPECT_EQ(patched->Get("a").float64(), 1);
  EXPECT_TRUE(patched->Get("b").is_undefined());
  EXPECT_EQ(patched->Get("c").float64(), 3);
  // Echoing _id is fine; changing it or writing another _ field is not.
  Value echo = *Value::MakeObject({{"_id", Value::String(EncodeDocumentId(id))}, {"d", Value::Null()}});
  EXPECT_TRUE(txn->Patch(id, echo).ok());
  EXPECT_EQ(txn->Patch(id, Json(R"({"_secret":1})")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Patch(id, Json(R"({"_id":"x"})")).status().code(), absl::StatusCode::kInvalidArgument);

  const double creation = patched->Get("_creationTime").float64();
  absl::StatusOr<Value> replaced = txn->Replace(id, Json(R"({"z":true})"));
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_TRUE(replaced->Get("a").is_undefined());
  EXPECT_EQ(replaced->Get("_creationTime").float64(), creation);
  EXPECT_EQ(replaced->Get("_id").string(), EncodeDocumentId(id));

  ASSERT_TRUE(txn->Delete(id).ok());
  EXPECT_FALSE(txn->Get(id)->has_value());
  absl::Status missing = txn->Patch(id, Json("{}")).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.message(), HasSubstr("Update on nonexistent document ID"));
  EXPECT_EQ(txn->writes().size(), 1u);  // coalesced per document
  ASSERT_TRUE(db_.Commit(*txn).ok());
  EXPECT_FALSE(db_.Begin()->Get(id)->has_value());
}

TEST_F(TransactionTest, BadInputIsRefusedAndNothingIsWritten) {
  std::unique_ptr<Transaction> txn = db_.Begin();
  EXPECT_EQ(txn->Insert("_scheduled_functions", Json("{}")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Insert("bad name", Json("{}")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Insert("t", Json(R"({"_id":"x"})")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Insert("t", Json("[1]")).status().code(), absl::StatusCode::kInvalidArgument);
  std::string deep = "1";
  for (int i = 0; i < 17; ++i) deep = "{\"x\":" + deep + "}";  // the document is 17 levels deep
  EXPECT_EQ(txn->Insert("t", Json(deep)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Insert("t", Json("{\"s\":\"" + std::string(1 << 20, 'x') + "\"}")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(txn->read_only());
  // At the limits: 16 levels and just under 1 MiB are fine.
  std::string sixteen = "1";
  for (int i = 0; i < 16; ++i) sixteen = "{\"x\":" + sixteen + "}";
  EXPECT_TRUE(txn->Insert("t", Json(sixteen)).ok());
  EXPECT_TRUE(txn->Insert("t", Json("{\"s\":\"" + std::string((1 << 20) - 200, 'x') + "\"}")).ok());
  // An id of a table that does not exist reads as nothing.
  DocumentId stranger{TableNumber(4242), {}};
  EXPECT_FALSE(txn->Get(stranger)->has_value());
}

TEST_F(TransactionTest, OnlyTheSystemWritesSystemTables) {
  std::unique_ptr<Transaction> txn = db_.Begin();
  absl::StatusOr<DocumentId> job = txn->Insert("_scheduled_functions", Json(R"({"name":"a:b","state":{"kind":"pending"}})"),
                                               Access::kSystem);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->table.value(), 1u);
  EXPECT_EQ(txn->Patch(*job, Json(R"({"state":{"kind":"canceled"}})")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(txn->Delete(*job).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(txn->Patch(*job, Json(R"({"state":{"kind":"canceled"}})"), Access::kSystem).ok());
  ASSERT_TRUE(db_.Commit(*txn).ok());
  std::unique_ptr<Transaction> reader = db_.Begin();
  EXPECT_EQ((*reader->Get(*job))->GetPath("state.kind").string(), "canceled");
  // Names that are not system tables stay refused, even for the system.
  EXPECT_EQ(reader->Insert("_mine", Json("{}"), Access::kSystem).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TransactionTest, OversizedIndexKeysAreRefusedBeforeTheCommit) {
  TableNumber table = db_.catalog().GetOrCreateTable(db_.schemas().deployment(), "docs")->number;
  ASSERT_TRUE(db_.catalog().CreateIndex(db_.schemas().deployment(), table, "by_title", {"title"}, true).ok());
  db_.schemas().Invalidate(table);
  std::unique_ptr<Transaction> txn = db_.Begin();
  // A long unindexed field is fine; the same text in an indexed field is refused with a clear error.
  ASSERT_TRUE(txn->Insert("docs", Json("{\"body\":\"" + std::string(100000, 'b') + "\"}")).ok());
  absl::Status big = txn->Insert("docs", Json("{\"title\":\"" + std::string(3000, 't') + "\"}")).status();
  EXPECT_EQ(big.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.message(), HasSubstr("too large for index docs.by_title"));
  ASSERT_TRUE(txn->Insert("docs", Json("{\"title\":\"" + std::string(1900, 't') + "\"}")).ok());
  EXPECT_TRUE(db_.Commit(*txn).ok());
}

TEST_F(TransactionTest, IdsFromUserCodeAreCheckedAgainstTheirTable) {
  DocumentId message = InsertCommitted("messages", "{}");
  InsertCommitted("users", "{}");
  std::unique_ptr<Transaction> txn = db_.Begin();
  const std::string text = EncodeDocumentId(message);
  EXPECT_EQ(*txn->ResolveId("db.get", text, std::nullopt), message);
  EXPECT_EQ(*txn->ResolveId("db.get", text, "messages"), message);
  absl::Status wrong_table = txn->ResolveId("db.get", text, "users").status();
  EXPECT_EQ(wrong_table.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wrong_table.message(),
            "Invalid argument `id` for `db.get`: expected to be an Id<\"users\">, got Id<\"messages\"> instead.");
  absl::Status garbage = txn->ResolveId("db.patch", "not-an-id", std::nullopt).status();
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.message(), HasSubstr("Invalid argument `id` for `db.patch`: Unable to decode ID"));
  EXPECT_EQ(txn->ResolveId("db.get", text, "no such'table").status().code(), absl::StatusCode::kInvalidArgument);
  // An id minted in another deployment names nothing here, even with the same table number.
  Database other(pool_, testing::NewDeployment(pool_));
  ASSERT_TRUE(other.Open().ok());
  std::unique_ptr<Transaction> stranger = other.Begin();
  ASSERT_TRUE(stranger->Insert("messages", Json("{}")).ok());
  ASSERT_TRUE(other.Commit(*stranger).ok());
  EXPECT_FALSE(other.Begin()->Get(message)->has_value());
}

TEST_F(TransactionTest, ScansMergeOwnWritesInOrder) {
  InsertCommitted("items", R"({"n":1})");
  DocumentId two = InsertCommitted("items", R"({"n":2})");
  DocumentId three = InsertCommitted("items", R"({"n":3})");
  std::unique_ptr<Transaction> txn = db_.Begin();
  ASSERT_TRUE(txn->Delete(two).ok());
  ASSERT_TRUE(txn->Patch(three, Json(R"({"n":33})")).ok());
  ASSERT_TRUE(txn->Insert("items", Json(R"({"n":4})")).ok());
  EXPECT_THAT(ScanField(*txn, "items", "n", Order::kAsc), ElementsAre(1, 33, 4));
  EXPECT_THAT(ScanField(*txn, "items", "n", Order::kDesc), ElementsAre(4, 33, 1));
  EXPECT_THAT(ScanField(*txn, "items", "n", Order::kAsc, 2), ElementsAre(1, 33));
  // Others see none of it before the commit.
  EXPECT_THAT(ScanField(*db_.Begin(), "items", "n", Order::kAsc), ElementsAre(1, 2, 3));
  ASSERT_TRUE(db_.Commit(*txn).ok());
  EXPECT_THAT(ScanField(*db_.Begin(), "items", "n", Order::kAsc), ElementsAre(1, 33, 4));
}

TEST_F(TransactionTest, ReadSetCoversOnlyWhatWasConsumed) {
  InsertCommitted("q", R"({"n":1})");
  InsertCommitted("q", R"({"n":2})");
  std::unique_ptr<Transaction> txn = db_.Begin();
  std::shared_ptr<const TableSchema> schema = *db_.schemas().ByName("q", false);
  ScanResult first = *txn->Scan(schema, schema->by_creation_time(), {}, Order::kAsc, 1);
  ASSERT_EQ(first.keys.size(), 1u);
  EXPECT_FALSE(first.exhausted);
  const IndexId index = schema->by_creation_time().id;
  EXPECT_TRUE(txn->reads().Contains(index, first.keys[0]));
  std::unique_ptr<Transaction> all = db_.Begin();
  ScanResult both = *all->Scan(schema, schema->by_creation_time(), {}, Order::kAsc, 10);
  ASSERT_EQ(both.keys.size(), 2u);
  EXPECT_TRUE(both.exhausted);
  EXPECT_FALSE(txn->reads().Contains(index, both.keys[1]));  // take(1) did not read the second
  EXPECT_TRUE(all->reads().Contains(index, both.keys[1] + "later"));  // a full scan covers the rest
}

// As Convex counts writes: every write that changes a document, the same document again included.
TEST_F(TransactionTest, WritesCountAsConvexCountsThem) {
  TransactionLimits limits;
  limits.max_documents_written = 3;
  Database small(pool_, testing::NewDeployment(pool_), {}, limits);
  ASSERT_TRUE(small.Open().ok());
  std::unique_ptr<Transaction> txn = small.Begin();
  DocumentId id = *txn->Insert("t", Json("{}"));
  ASSERT_TRUE(small.Commit(*txn).ok());
  std::unique_ptr<Transaction> patches = small.Begin();
  EXPECT_TRUE(patches->Patch(id, Json("{}")).ok());  // changes nothing: not a write
  EXPECT_EQ(patches->write_count(), 0u);
  EXPECT_TRUE(patches->Patch(id, Json(R"({"n":1})")).ok());
  EXPECT_TRUE(patches->Patch(id, Json(R"({"n":2})")).ok());
  EXPECT_TRUE(patches->Patch(id, Json(R"({"n":3})")).ok());
  EXPECT_EQ(patches->write_count(), 3u);
  absl::Status fourth = patches->Patch(id, Json(R"({"n":4})")).status();
  EXPECT_EQ(fourth.message(), "Too many writes in a single function execution (limit: 3)");
  EXPECT_EQ(patches->writes().size(), 1u);
  // Reading a document this transaction wrote counts as a read.
  const size_t read = patches->documents_read();
  EXPECT_TRUE(patches->Get(id).ok());
  EXPECT_EQ(patches->documents_read(), read + 1);
}

TEST_F(TransactionTest, LimitsAtTheBoundary) {
  TransactionLimits limits;
  limits.max_documents_written = 3;
  limits.max_documents_read = 2;
  limits.max_read_intervals = 4;
  Database small(pool_, testing::NewDeployment(pool_), {}, limits);
  ASSERT_TRUE(small.Open().ok());
  std::unique_ptr<Transaction> txn = small.Begin();
  std::vector<DocumentId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(*txn->Insert("t", Json("{}")));
  absl::Status fourth = txn->Insert("t", Json("{}")).status();
  EXPECT_EQ(fourth.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(fourth.message(), "Too many writes in a single function execution (limit: 3)");
  ASSERT_TRUE(small.Commit(*txn).ok());



  std::unique_ptr<Transaction> reader = small.Begin();
  EXPECT_TRUE(reader->Get(ids[0]).ok());
  EXPECT_TRUE(reader->Get(ids[1]).ok());
  absl::Status third = reader->Get(ids[2]).status();
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.message(), HasSubstr("Too many documents read"));

  std::unique_ptr<Transaction> ranges = small.Begin();
  DocumentId nowhere{TableNumber(10001), {}};
  for (int i = 0; i < 4; ++i) {
    nowhere.internal[0] = static_cast<uint8_t>(i);
    ASSERT_TRUE(ranges->Get(nowhere).ok());
  }
  nowhere.internal[0] = 9;
  EXPECT_EQ(ranges->Get(nowhere).status().code(), absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace isobar::storage
