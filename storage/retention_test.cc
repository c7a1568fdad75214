// Retention on a real PostgreSQL: what snapshots at or after the horizon read is unchanged, history
// before it is gone, open transactions hold the horizon back, and the newest timestamp survives.
#include "storage/retention.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/convex_json.h"
#include "storage/database.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

int64_t Count(PgPool& pool, const char* table, DeploymentId d) {
  PgPool::Lease conn = *pool.Acquire();
  return conn->Exec(absl::StrCat("SELECT count(*) FROM isobar.", table, " WHERE deployment_id = $1"),
                    {absl::StrCat(d.value())})
      ->GetInt(0, 0);
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Open().ok());
    TableNumber t = db_.catalog().GetOrCreateTable(deployment_, "things")->number;
    ASSERT_TRUE(db_.catalog().CreateIndex(deployment_, t, "by_v", {"v"}, true).ok());
    db_.schemas().Invalidate(t);
  }

  Timestamp Write(const std::function<void(Transaction&)>& body) {
    std::unique_ptr<Transaction> txn = db_.Begin();
    body(*txn);
    absl::StatusOr<Timestamp> ts = db_.Commit(*txn);
    EXPECT_TRUE(ts.ok()) << ts.status();
    return *ts;
  }

  // Everything a snapshot at `ts` can see: each index scanned, as JSON.
  std::string View(Timestamp ts) {
    Transaction txn(db_.persistence(), db_.schemas(), ts, 1);
    std::shared_ptr<const TableSchema> schema = *db_.schemas().ByName("things", false);
    std::string out;
    for (const IndexInfo& index : schema->indexes) {
      if (index.name == kByIdIndex) continue;
      absl::StatusOr<ScanResult> scan = txn.Scan(schema, index, {}, Order::kAsc, 1000);
      EXPECT_TRUE(scan.ok()) << scan.status();
      if (!scan.ok()) continue;
      for (const Value& doc : scan->documents) absl::StrAppend(&out, index.name, ":", ToConvexJson(doc), "\n");
    }
    return out;
  }

  PgPool& pool_ = testing::SharedPostgres().pool();
  DeploymentId deployment_ = testing::NewDeployment(pool_);
  Database db_{pool_, deployment_};
};

TEST_F(RetentionTest, SnapshotsAtOrAfterTheHorizonAreUnchanged) {
  DocumentId a, b;
  Write([&](Transaction& t) {
    a = *t.Insert("things", *ParseConvexJson(R"({"v":1})"));
    b = *t.Insert("things", *ParseConvexJson(R"({"v":10})"));
  });
  Timestamp t2 = Write([&](Transaction& t) { ASSERT_TRUE(t.Patch(a, *ParseConvexJson(R"({"v":2})")).ok()); });
  Timestamp t3 = Write([&](Transaction& t) {
    ASSERT_TRUE(t.Patch(a, *ParseConvexJson(R"({"v":3})")).ok());
    ASSERT_TRUE(t.Delete(b).ok());
  });
  Timestamp t4 = Write([&](Transaction& t) { ASSERT_TRUE(t.Insert("things", *ParseConvexJson(R"({"v":4})")).ok()); });

  const std::string at_t3 = View(t3), at_t4 = View(t4);
  const int64_t documents = Count(pool_, "documents", deployment_);
  const int64_t entries = Count(pool_, "index_entries", deployment_);
  Retention retention(pool_, deployment_, /*batch=*/2);  // small batches exercise the batching
  absl::StatusOr<RetentionStats> stats = retention.Collect(t3);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(View(t3), at_t3);
  EXPECT_EQ(View(t4), at_t4);
  // Gone: a@t1, a@t2, b@t1 and b's tombstone; the index entries they hid or that hid them.
  EXPECT_EQ(stats->documents_deleted, 4) << [&] {
    PgPool::Lease conn = *pool_.Acquire();
    auto d = conn->Exec("SELECT encode(id,'hex'), ts, prev_ts, deleted FROM isobar.documents WHERE deployment_id=$1 ORDER BY id, ts",
                        {absl::StrCat(deployment_.value())});
    std::string rows = absl::StrCat("t3=", t3.value(), " t4=", t4.value(), "\n");
    for (int i = 0; i < d->rows(); ++i) absl::StrAppend(&rows, d->Get(i, 0).substr(0, 8), " ", d->Get(i, 1), " ", d->Get(i, 2), " ", d->Get(i, 3), "\n");
    return rows;
  }();
  EXPECT_EQ(Count(pool_, "documents", deployment_), documents - 4);
  EXPECT_GT(stats->index_entries_deleted, 0);
  EXPECT_EQ(Count(pool_, "index_entries", deployment_), entries - stats->index_entries_deleted);
  (void)t2;
  // Idempotent.
  EXPECT_EQ(retention.Collect(t3)->documents_deleted, 0);
}

TEST_F(RetentionTest, TheNewestTimestampSurvives) {
  DocumentId a;
  Write([&](Transaction& t) { a = *t.Insert("things", *ParseConvexJson(R"({"v":1})")); });
  Timestamp last = Write([&](Transaction& t) { ASSERT_TRUE(t.Delete(a).ok()); });
  ASSERT_TRUE(Retention(pool_, deployment_).Collect(Timestamp(last.value() + 1000)).ok());
  EXPECT_EQ(*db_.persistence().MaxTimestamp(), last);
}

TEST_F(RetentionTest, OpenTransactionsHoldTheHorizonBack) {
  Write([&](Transaction& t) { ASSERT_TRUE(t.Insert("things", *ParseConvexJson(R"({"v":1})")).ok()); });
  std::unique_ptr<Transaction> open = db_.Begin();
  const Timestamp held = open->begin_ts();
  Write([&](Transaction& t) { ASSERT_TRUE(t.Insert("things", *ParseConvexJson(R"({"v":2})")).ok()); });
  EXPECT_EQ(db_.RetentionHorizon(absl::ZeroDuration()), held);
  open.reset();
  EXPECT_EQ(db_.RetentionHorizon(absl::ZeroDuration()), db_.committer().Latest());
  EXPECT_EQ(db_.RetentionHorizon(absl::Seconds(1)).value(),
            db_.committer().Latest().value() - absl::ToInt64Nanoseconds(absl::Seconds(1)));
}

}  // namespace
}  // namespace isobar::storage
