// Housekeeping on real PostgreSQL with a manual clock: idempotency records expire, history is
// collected, and passes come from the clock.
#include "supervisor/scheduling/housekeeping.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "storage/catalog.h"
#include "storage/document_id.h"
#include "storage/pg_testing.h"
#include "storage/system_tables.h"
#include "supervisor/runner/file_storage.h"

namespace isobar::supervisor {
namespace {

using storage::Value;

class HousekeepingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::PgPool& pool = storage::testing::SharedPostgres().pool();
    storage::Catalog catalog(pool);
    static int counter = 0;
    const std::string name = absl::StrCat("hk", getpid(), "n", counter++);
    ASSERT_TRUE(catalog.CreateDeployment(name).ok());
    live_ = std::make_unique<LiveDeployments>(pool);
    absl::StatusOr<std::shared_ptr<LiveDeployment>> deployment = live_->Get(name);
    ASSERT_TRUE(deployment.ok()) << deployment.status();
    deployment_ = *deployment;
  }

  void Commit(const std::function<void(storage::Transaction&)>& change) {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    change(*txn);
    ASSERT_TRUE(deployment_->db().Commit(*txn).ok());
  }

  size_t IdempotencyRecords() {
    std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
    absl::StatusOr<std::shared_ptr<const storage::TableSchema>> table =
        txn->schemas().ByName(storage::kIdempotencyTable, false);
    EXPECT_TRUE(table.ok() && *table != nullptr);
    absl::StatusOr<storage::ScanResult> all = txn->Scan(*table, (*table)->by_creation_time(), {}, storage::Order::kAsc, 100);
    EXPECT_TRUE(all.ok());
    return all.ok() ? all->documents.size() : 0;
  }

  // Runs what the executor has, including what that schedules on it.
  void Drain() {
    for (int round = 0; round < 2; ++round) {
      absl::Notification done;
      executor_.Run([&] { done.Notify(); });
      done.WaitForNotification();
    }
  }

  Executor executor_{"hk-test", 1};
  ManualClock clock_{executor_, absl::Now()};
  std::unique_ptr<LiveDeployments> live_;
  std::shared_ptr<LiveDeployment> deployment_;
};

TEST_F(HousekeepingTest, OldIdempotencyRecordsGoAndHistoryIsCollected) {
  for (int i = 0; i < 3; ++i) {
    Commit([&](storage::Transaction& txn) {
      ASSERT_TRUE(txn.Insert(storage::kIdempotencyTable,
                             Value::MakeSortedObject({{"key", Value::String(absl::StrCat("k", i))},
                                                      {"path", Value::String("m:f")},
                                                      {"result", Value::String("null")}}),
                             storage::Access::kSystem)
                      .ok());
    });
  }
  storage::DocumentId doc;
  Commit([&](storage::Transaction& txn) {
    absl::StatusOr<storage::DocumentId> id = txn.Insert("notes", Value::MakeSortedObject({{"n", Value::Float64(0)}}));
    ASSERT_TRUE(id.ok());
    doc = *id;
  });
  for (int i = 1; i <= 4; ++i) {
    Commit([&](storage::Transaction& txn) {
      ASSERT_TRUE(txn.Patch(doc, Value::MakeSortedObject({{"n", Value::Float64(i)}})).ok());
    });
  }
  Housekeeping housekeeping(*live_, storage::testing::SharedPostgres().pool(), clock_, executor_,
                            {.history_window = absl::ZeroDuration(), .idempotency_window = absl::Hours(24)});
  housekeeping.RunOnce();
  EXPECT_EQ(IdempotencyRecords(), 3u) << "not a day old yet";
  EXPECT_GE(housekeeping.stats().documents_collected, 4) << "the superseded revisions of the note";
  // A day later, on the timer.
  housekeeping.Start();
  clock_.Advance(absl::Hours(24) + absl::Minutes(10));
  Drain();
  EXPECT_EQ(housekeeping.stats().passes, 2u);
  EXPECT_EQ(housekeeping.stats().idempotency_records_deleted, 3u);
  EXPECT_EQ(IdempotencyRecords(), 0u);
  // The document itself is untouched.
  std::unique_ptr<storage::Transaction> txn = deployment_->db().Begin();
  absl::StatusOr<std::optional<Value>> note = txn->Get(doc);
  ASSERT_TRUE(note.ok() && note->has_value());
  EXPECT_EQ((*note)->Get("n"), Value::Float64(4));
  housekeeping.Stop();
  clock_.Advance(absl::Hours(1));
  Drain();
  EXPECT_EQ(housekeeping.stats().passes, 2u) << "stopped";
}

TEST_F(HousekeepingTest, BytesOfDeletedAndNeverCommittedFilesAreCollected) {
  storage::Database& db = deployment_->db();
  absl::StatusOr<std::string> kept = StoreFileNow(db, "kept bytes", std::nullopt, std::nullopt);
  absl::StatusOr<std::string> deleted = StoreFileNow(db, "deleted bytes", std::nullopt, std::nullopt);
  ASSERT_TRUE(kept.ok() && deleted.ok());
  Commit([&](storage::Transaction& txn) {
    absl::StatusOr<storage::DocumentId> id = storage::DecodeDocumentId(*deleted);
    ASSERT_TRUE(id.ok());
    ASSERT_TRUE(txn.Delete(*id, storage::Access::kSystem).ok());
  });
  // An upload whose document never committed: bytes under an id no document has.
  ASSERT_TRUE(db.files().Write("never-committed", "orphan bytes", kDeploymentFileQuotaBytes).ok());
  auto stored = [&](const std::string& key) {
    return db.files().Read(key, 0, 1, [](absl::string_view) { return absl::OkStatus(); }).ok();
  };

  // Younger than the orphan age: nothing goes.
  Housekeeping young(*live_, storage::testing::SharedPostgres().pool(), clock_, executor_, {});
  young.RunOnce();
  EXPECT_EQ(young.stats().files_collected, 0u);
  EXPECT_TRUE(stored(*deleted) && stored("never-committed"));

  Housekeeping old(*live_, storage::testing::SharedPostgres().pool(), clock_, executor_,
                   HousekeepingOptions{.file_orphan_age = absl::ZeroDuration()});
  old.RunOnce();
  EXPECT_EQ(old.stats().files_collected, 2u);
  EXPECT_TRUE(stored(*kept));
  EXPECT_FALSE(stored(*deleted));
  EXPECT_FALSE(stored("never-committed"));
}

}  // namespace
}  // namespace isobar::supervisor
