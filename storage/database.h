// One deployment's database: catalog, schema cache, persistence and committer together.
//
//   Database db(pool, deployment);
//   RETURN_IF_ERROR(db.Open());
//   std::unique_ptr<Transaction> txn = db.Begin();
//   ... txn->Insert / Get / Scan ...
//   ASSIGN_OR_RETURN(Timestamp ts, db.Commit(*txn));
#ifndef ISOBAR_STORAGE_DATABASE_H_
#define ISOBAR_STORAGE_DATABASE_H_

#include <memory>

#include "storage/blob_store.h"
#include "storage/catalog.h"
#include "storage/committer.h"
#include "storage/persistence.h"
#include "storage/schema_cache.h"
#include "storage/snapshots.h"
#include "storage/transaction.h"

namespace isobar::storage {

class Database {
 public:
  // `pool` is not owned and must outlive the database.
  // Stored files' bytes go to PostgreSQL, or under `file_directory` when it is not empty
  // (blob_store.h).
  Database(PgPool& pool, DeploymentId deployment, CommitterOptions options = {}, TransactionLimits limits = {},
           const std::string& file_directory = "");

  absl::Status Open() { return committer_.Start(); }
  void Close() { committer_.Stop(); }

  // A transaction at the newest published timestamp. It must not outlive the database.
  std::unique_ptr<Transaction> Begin() ABSL_LOCKS_EXCLUDED(begin_mu_);
  // A transaction reading at `ts`, a published timestamp no newer than the newest (subscriptions
  // evaluate several queries at one timestamp). FAILED_PRECONDITION for a timestamp not yet published.
  absl::StatusOr<std::unique_ptr<Transaction>> BeginAt(Timestamp ts) ABSL_LOCKS_EXCLUDED(begin_mu_);

  // The newest timestamp that retention may collect up to: `window` behind the newest commit, and never
  // past the snapshot of an open transaction.
  Timestamp RetentionHorizon(absl::Duration window) const ABSL_LOCKS_EXCLUDED(begin_mu_);
  absl::StatusOr<Timestamp> Commit(const Transaction& txn, absl::Time deadline = absl::InfiniteFuture()) {
    return committer_.Commit(txn, deadline);
  }

  Catalog& catalog() { return catalog_; }
  SchemaCache& schemas() { return schemas_; }
  Persistence& persistence() { return persistence_; }
  Committer& committer() { return committer_; }
  // The bytes of the deployment's stored files (their _storage documents are in the tables).
  BlobStore& files() { return *files_; }

 private:
  Catalog catalog_;
  SchemaCache schemas_;
  Persistence persistence_;
  Committer committer_;
  std::unique_ptr<BlobStore> files_;
  const TransactionLimits limits_;
  SnapshotRegistry snapshots_;
  mutable absl::Mutex begin_mu_;  // orders Begin against RetentionHorizon
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_DATABASE_H_
