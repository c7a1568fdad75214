// The committer on a real PostgreSQL: OCC conflicts and their absence, phantoms, serializability under
// concurrency, group commit, ordered publication.
#include "storage/committer.h"

#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

using ::testing::HasSubstr;

Value Json(absl::string_view json) { return *ParseConvexJson(json); }

class CommitterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.Open().ok()); }

  DocumentId Insert(absl::string_view table, absl::string_view json) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    DocumentId id = *txn->Insert(table, Json(json));
    EXPECT_TRUE(db_.Commit(*txn).ok());
    return id;
  }
  double Field(const DocumentId& id, const char* name) { return (*db_.Begin()->Get(id))->Get(name).float64(); }

  // Read-modify-write of `field` += delta, retried on OCC conflicts. Returns the attempts made.
  int Increment(const DocumentId& id, const char* field, double delta) {
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<Transaction> txn = db_.Begin();
      std::optional<Value> doc = *txn->Get(id);
      Value::Object patch = {{field, Value::Float64(doc->Get(field).float64() + delta)}};
      EXPECT_TRUE(txn->Patch(id, Value::MakeSortedObject(patch)).ok());
      absl::StatusOr<Timestamp> ts = db_.Commit(*txn);
      if (ts.ok()) return attempt;
      EXPECT_EQ(ts.status().code(), absl::StatusCode::kAborted) << ts.status();
      if (!absl::IsAborted(ts.status())) return attempt;
    }
  }

  PgPool& pool_ = testing::SharedPostgres().pool();
  Database db_{pool_, testing::NewDeployment(pool_)};
};

TEST_F(CommitterTest, TheSecondOfTwoConflictingWritersIsAborted) {
  DocumentId counter = Insert("counters", R"({"n":0})");
  std::unique_ptr<Transaction> a = db_.Begin();
  std::unique_ptr<Transaction> b = db_.Begin();
  ASSERT_TRUE(a->Patch(counter, Json(R"({"n":1})")).ok());
  ASSERT_TRUE(b->Patch(counter, Json(R"({"n":2})")).ok());
  ASSERT_TRUE(db_.Commit(*a).ok());
  absl::StatusOr<Timestamp> second = db_.Commit(*b);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(second.status().message(), HasSubstr("\"counters\" table changed"));
  EXPECT_THAT(second.status().message(), HasSubstr(EncodeDocumentId(counter)));
  EXPECT_EQ(Field(counter, "n"), 1);
  EXPECT_EQ(db_.committer().stats().conflicts, 1u);
}

TEST_F(CommitterTest, DisjointDocumentsDoNotConflict) {
  DocumentId x = Insert("accounts", R"({"n":0})");
  DocumentId y = Insert("accounts", R"({"n":0})");
  std::unique_ptr<Transaction> a = db_.Begin();
  std::unique_ptr<Transaction> b = db_.Begin();
  ASSERT_TRUE(a->Patch(x, Json(R"({"n":1})")).ok());
  ASSERT_TRUE(b->Patch(y, Json(R"({"n":1})")).ok());
  EXPECT_TRUE(db_.Commit(*a).ok());
  EXPECT_TRUE(db_.Commit(*b).ok());
  // A blind insert does not conflict with a transaction that only read other documents either.
  std::unique_ptr<Transaction> reader = db_.Begin();
  ASSERT_TRUE(reader->Get(x).ok());
  ASSERT_TRUE(reader->Patch(x, Json(R"({"n":2})")).ok());
  Insert("accounts", R"({"n":9})");
  EXPECT_TRUE(db_.Commit(*reader).ok());
}

TEST_F(CommitterTest, APhantomInAScannedRangeIsAConflict) {
  Insert("queue", R"({"n":1})");
  std::unique_ptr<Transaction> full = db_.Begin();
  std::shared_ptr<const TableSchema> schema = *db_.schemas().ByName("queue", false);
  ASSERT_EQ(full->Scan(schema, schema->by_creation_time(), {}, Order::kAsc, 100)->documents.size(), 1u);
  ASSERT_TRUE(full->Insert("queue", Json(R"({"n":2})")).ok());
  std::unique_ptr<Transaction> first_only = db_.Begin();
  ASSERT_EQ(first_only->Scan(schema, schema->by_creation_time(), {}, Order::kAsc, 1)->documents.size(), 1u);
  ASSERT_TRUE(first_only->Insert("log", Json("{}")).ok());

  Insert("queue", R"({"n":3})");  // lands after everything: inside the full scan, outside take(1)
  EXPECT_EQ(db_.Commit(*full).status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(db_.Commit(*first_only).ok());
}

// "Insert if the table is empty" on a table nobody has written yet: the read of the missing table is
// part of the read set, so of two such transactions only one commits.
TEST_F(CommitterTest, ReadingAMissingTableConflictsWithItsFirstInsert) {
  std::unique_ptr<Transaction> a = db_.Begin();
  std::unique_ptr<Transaction> b = db_.Begin();
  for (Transaction* txn : {a.get(), b.get()}) {
    absl::StatusOr<std::shared_ptr<const TableSchema>> schema = txn->Table("singleton");
    ASSERT_TRUE(schema.ok() && *schema == nullptr) << "the table should not exist yet";
  }
  ASSERT_TRUE(a->Insert("singleton", Json("{}")).ok());
  ASSERT_TRUE(b->Insert("singleton", Json("{}")).ok());
  ASSERT_TRUE(db_.Commit(*a).ok());
  absl::Status second = db_.Commit(*b).status();
  EXPECT_EQ(second.code(), absl::StatusCode::kAborted) << second;
  EXPECT_THAT(second.message(), HasSubstr("\"singleton\""));

  // db.get of an id whose table does not exist yet reads that table's absence too.
  DocumentId future{TableNumber(kFirstUserTableNumber + 1), {}};
  std::unique_ptr<Transaction> getter = db_.Begin();
  ASSERT_FALSE(getter->Get(future)->has_value());
  ASSERT_TRUE(getter->Insert("singleton", Json("{}")).ok());
  Insert("elsewhere", "{}");  // the table numbered after "singleton"
  EXPECT_EQ(db_.Commit(*getter).status().code(), absl::StatusCode::kAborted);

  // Writes to tables that exist leave such readers alone.
  std::unique_ptr<Transaction> reader = db_.Begin();
  ASSERT_EQ(*reader->Table("still_missing"), nullptr);
  ASSERT_TRUE(reader->Insert("elsewhere", Json("{}")).ok());
  Insert("singleton", "{}");
  EXPECT_TRUE(db_.Commit(*reader).ok());
}

TEST_F(CommitterTest, ConcurrentIncrementsAndTransfersAreSerializable) {
  constexpr int kThreads = 8, kIncrements = 25;
  std::vector<DocumentId> counters = {Insert("c", R"({"n":0})"), Insert("c", R"({"n":0})")};
  std::vector<DocumentId> accounts;
  for (int i = 0; i < 4; ++i) accounts.push_back(Insert("acct", R"({"balance":100})"));
  std::atomic<int> retries{0};
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kIncrements; ++i) {
        retries += Increment(counters[static_cast<size_t>(t % 2)], "n", 1) - 1;
        ++acknowledged;
        // A transfer: read two balances, move one unit, retried as a whole on conflict.
        size_t from = rng() % 4, to = (from + 1 + rng() % 3) % 4;
        for (;;) {
          std::unique_ptr<Transaction> txn = db_.Begin();
          double a = (*txn->Get(accounts[from]))->Get("balance").float64();
          double b = (*txn->Get(accounts[to]))->Get("balance").float64();
          ASSERT_TRUE(txn->Patch(accounts[from], Value::MakeSortedObject({{"balance", Value::Float64(a - 1)}})).ok());
          ASSERT_TRUE(txn->Patch(accounts[to], Value::MakeSortedObject({{"balance", Value::Float64(b + 1)}})).ok());
          absl::StatusOr<Timestamp> ts = db_.Commit(*txn);
          if (ts.ok()) break;
          ASSERT_TRUE(absl::IsAborted(ts.status())) << ts.status();
          ++retries;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  // Every acknowledged increment is there, exactly once.
  EXPECT_EQ(Field(counters[0], "n") + Field(counters[1], "n"), acknowledged.load());
  EXPECT_EQ(acknowledged.load(), kThreads * kIncrements);
  double total = 0;
  for (const DocumentId& a : accounts) total += Field(a, "balance");
  EXPECT_EQ(total, 400);
  Committer::Stats stats = db_.committer().stats();
  EXPECT_GT(stats.conflicts, 0u) << "8 threads on 2 counters should have collided";
  EXPECT_EQ(static_cast<int>(stats.conflicts), retries.load());
  EXPECT_LT(stats.groups, stats.commits) << "concurrent commits should have shared PostgreSQL transactions";
}

TEST_F(CommitterTest, PublicationIsInTimestampOrderAndBeforeTheAnswer) {
  Database db(pool_, testing::NewDeployment(pool_));
  absl::Mutex mu;
  std::vector<int64_t> seen;
  db.committer().SetPublishHook([&](const PublishedCommit& commit) {
    absl::MutexLock lock(&mu);
    seen.push_back(commit.ts.value());
    EXPECT_EQ(commit.changes.size(), 1u);
    EXPECT_EQ(commit.changes[0].table, "events");
  });
  ASSERT_TRUE(db.Open().ok());
  std::vector<std::thread> threads;
  std::atomic<int> published_before_answer{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        std::unique_ptr<Transaction> txn = db.Begin();
        ASSERT_TRUE(txn->Insert("events", Json("{}")).ok());
        absl::StatusOr<Timestamp> ts = db.Commit(*txn);
        ASSERT_TRUE(ts.ok()) << ts.status();
        EXPECT_GE(db.committer().Latest(), *ts);
        absl::MutexLock lock(&mu);
        if (std::find(seen.begin(), seen.end(), ts->value()) != seen.end()) ++published_before_answer;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(published_before_answer.load(), 40);
  ASSERT_EQ(seen.size(), 40u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());  // strictly increasing
}

TEST_F(CommitterTest, RestartContinuesAfterTheNewestTimestamp) {
  DeploymentId deployment = testing::NewDeployment(pool_);
  Timestamp last;
  {
    Database first(pool_, deployment);
    ASSERT_TRUE(first.Open().ok());
    std::unique_ptr<Transaction> txn = first.Begin();
    DocumentId id = *txn->Insert("t", Json(R"({"v":1})"));
    last = *first.Commit(*txn);
    (void)id;
  }
  Database second(pool_, deployment);
  ASSERT_TRUE(second.Open().ok());
  EXPECT_EQ(second.committer().Latest(), last);
  std::unique_ptr<Transaction> txn = second.Begin();
  ASSERT_TRUE(txn->Insert("t", Json(R"({"v":2})")).ok());
  EXPECT_GT(*second.Commit(*txn), last);
}

}  // namespace
}  // namespace isobar::storage
