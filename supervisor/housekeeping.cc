#include "supervisor/housekeeping.h"

#include <utility>
#include <vector>

#include "base/log.h"
#include "base/status_macros.h"
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
  Arm();
}

void Housekeeping::Stop() {
  if (alive_ == nullptr) return;
  absl::MutexLock lock(&alive_->mu);  // waits for a pass under way
  alive_->self = nullptr;
}

void Housekeeping::Arm() {
  std::weak_ptr<Alive> weak = alive_;
  Executor* executor = &executor_;
  clock_.WakeAt(clock_.Now() + options_.interval, [weak, executor] {
    executor->Run([weak] {
      std::shared_ptr<Alive> alive = weak.lock();
      if (alive == nullptr) return;
      absl::MutexLock lock(&alive->mu);
      if (alive->self == nullptr) return;  // stopped
      alive->self->RunOnce();
      alive->self->Arm();
    });
  });
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
  }
  absl::MutexLock lock(&mu_);
  ++stats_.passes;
  stats_.documents_collected += found.documents_collected;
  stats_.index_entries_collected += found.index_entries_collected;
  stats_.idempotency_records_deleted += found.idempotency_records_deleted;
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
