#include "supervisor/scheduling/housekeeping.h"

#include <malloc.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/status_macros.h"
#include "storage/document_id.h"
#include "storage/index_key.h"
#include "storage/retention.h"
#include "storage/system_tables.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "housekeeping";

}  // namespace

Housekeeping::Housekeeping(LiveDeployments& deployments, storage::PgPool& pool, Clock& clock, Executor& executor,
                           HousekeepingOptions options)
    : deployments_(deployments), pool_(pool), clock_(clock), executor_(executor), options_(options) {}

void Housekeeping::Start() {
  if (alive_ != nullptr) return;
  alive_ = std::make_shared<Alive>();
  {
    absl::MutexLock lock(&alive_->mu);
    alive_->self = this;
  }
  Arm(options_.interval, &Housekeeping::RunOnce);
  if (options_.deployment_idle != absl::InfiniteDuration()) {
    Arm(std::max(options_.deployment_idle / 2, absl::Seconds(1)), &Housekeeping::CloseIdle);
  }
}

void Housekeeping::Stop() {
  if (alive_ == nullptr) return;
  absl::MutexLock lock(&alive_->mu);  // waits for a pass under way
  alive_->self = nullptr;
}

void Housekeeping::Arm(absl::Duration delay, void (Housekeeping::*task)()) {
  std::weak_ptr<Alive> weak = alive_;
  Executor* executor = &executor_;
  clock_.WakeAt(clock_.Now() + delay, [weak, executor, delay, task] {
    executor->Run([weak, delay, task] {
      std::shared_ptr<Alive> alive = weak.lock();
      if (alive == nullptr) return;
      absl::MutexLock lock(&alive->mu);
      if (alive->self == nullptr) return;  // stopped
      (alive->self->*task)();
      alive->self->Arm(delay, task);
    });
  });
}

void Housekeeping::CloseIdle() {
  const size_t closed = deployments_.CloseIdle(options_.deployment_idle);
  if (closed == 0) return;
  malloc_trim(0);  // what they held, back to the system
  const struct mallinfo2 heap = mallinfo2();
  ISOBAR_LOG(kInfo, kComponent) << "closed " << closed << " idle deployment(s); heap "
                                << (heap.uordblks + heap.hblkhd) / (1 << 20) << " MB in use, "
                                << heap.fordblks / (1 << 20) << " MB free";
  absl::MutexLock lock(&mu_);
  stats_.deployments_closed += closed;
}

void Housekeeping::RunOnce() {
  absl::MutexLock pass(&pass_mu_);
  const absl::Time now = clock_.Now();
  Stats found;
  for (const std::shared_ptr<LiveDeployment>& deployment : deployments_.Open()) {
    const std::string& name = deployment->info().name;
    storage::Retention retention(pool_, deployment->info().id);
    absl::StatusOr<storage::RetentionStats> collected =
        retention.Collect(deployment->db().RetentionHorizon(options_.history_window));
    if (collected.ok()) {
      found.documents_collected += collected->documents_deleted;
      found.index_entries_collected += collected->index_entries_deleted;
    } else {
      ISOBAR_LOG(kWarning, kComponent) << name << ": history not collected: " << collected.status();
    }
    absl::StatusOr<uint64_t> purged = PurgeIdempotencyRecords(*deployment, now - options_.idempotency_window);
    if (purged.ok()) {
      found.idempotency_records_deleted += *purged;
    } else {
      ISOBAR_LOG(kWarning, kComponent) << name << ": idempotency records not purged: " << purged.status();
    }
    absl::StatusOr<size_t> files = CollectFiles(*deployment);
    if (files.ok()) {
      found.files_collected += *files;
    } else {
      ISOBAR_LOG(kWarning, kComponent) << name << ": stored files not collected: " << files.status();
    }
  }
  absl::MutexLock lock(&mu_);
  ++stats_.passes;
  stats_.documents_collected += found.documents_collected;
  stats_.index_entries_collected += found.index_entries_collected;
  stats_.idempotency_records_deleted += found.idempotency_records_deleted;
  stats_.files_collected += found.files_collected;
}

absl::StatusOr<size_t> Housekeeping::CollectFiles(LiveDeployment& deployment) {
  storage::Database& db = deployment.db();
  // Referenced: a _storage document with that id exists now.
  return db.files().CollectOrphans(
      options_.file_orphan_age, options_.file_orphan_batch, [&db](const std::string& key) -> absl::StatusOr<bool> {
        absl::StatusOr<storage::DocumentId> id = storage::DecodeDocumentId(key);
        if (!id.ok()) return false;
        std::unique_ptr<storage::Transaction> txn = db.Begin();
        ASSIGN_OR_RETURN(std::optional<storage::Value> document, txn->Get(*id));
        return document.has_value();
      });
}

absl::StatusOr<uint64_t> Housekeeping::PurgeIdempotencyRecords(LiveDeployment& deployment, absl::Time cutoff) {
  uint64_t deleted = 0;
  for (;;) {
    std::unique_ptr<storage::Transaction> txn = deployment.db().Begin();
    ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table,
                     txn->schemas().ByName(storage::kIdempotencyTable, /*create=*/false));
    if (table == nullptr) return deleted;
    storage::KeyRange older;  // every record created before the cutoff
    older.end = storage::EncodeIndexKey({storage::Value::Float64(static_cast<double>(absl::ToUnixMillis(cutoff)))});
    ASSIGN_OR_RETURN(storage::ScanResult found, txn->Scan(table, table->by_creation_time(), older, storage::Order::kAsc,
                                                          options_.idempotency_batch));
    if (found.documents.empty()) return deleted;
    for (const storage::Value& record : found.documents) {
      ASSIGN_OR_RETURN(storage::DocumentId id, txn->ResolveId("housekeeping", record.Get("_id").string(), std::nullopt));
      RETURN_IF_ERROR(txn->Delete(id, storage::Access::kSystem).status());
    }
    absl::StatusOr<storage::Timestamp> committed = deployment.db().Commit(*txn);
    if (!committed.ok() && !absl::IsAborted(committed.status())) return committed.status();
    if (committed.ok()) deleted += found.documents.size();
    if (found.exhausted) return deleted;
  }
}

Housekeeping::Stats Housekeeping::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace isobar::supervisor
