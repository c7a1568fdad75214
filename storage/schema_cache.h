// Table schemas (a table and its indexes) of one deployment, cached from the catalog.
#ifndef ISOBAR_STORAGE_SCHEMA_CACHE_H_
#define ISOBAR_STORAGE_SCHEMA_CACHE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "storage/catalog.h"

namespace isobar::storage {

struct TableSchema {
  TableInfo table;
  std::vector<IndexInfo> indexes;  // by_id and by_creation_time first
  const IndexInfo& by_id() const { return indexes[0]; }
  const IndexInfo& by_creation_time() const { return indexes[1]; }
  const IndexInfo* Find(absl::string_view index_name) const;
};

class SchemaCache {
 public:
  // `catalog` is not owned and must outlive this.
  SchemaCache(Catalog& catalog, DeploymentId deployment) : catalog_(catalog), deployment_(deployment) {}

  // nullptr when the table does not exist (and `create` is false).
  absl::StatusOr<std::shared_ptr<const TableSchema>> ByName(absl::string_view name, bool create)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::shared_ptr<const TableSchema>> ByNumber(TableNumber number) ABSL_LOCKS_EXCLUDED(mu_);
  // Forget a table (after its indexes changed). Bumps the generation: a transaction that began under
  // an older generation and writes is refused at commit (it may have computed index keys from the old
  // indexes).
  void Invalidate(TableNumber number) ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t generation() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return generation_;
  }

  DeploymentId deployment() const { return deployment_; }

 private:
  absl::StatusOr<std::shared_ptr<const TableSchema>> Load(const TableInfo& table) ABSL_LOCKS_EXCLUDED(mu_);

  Catalog& catalog_;
  const DeploymentId deployment_;
  mutable absl::Mutex mu_;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<const TableSchema>> by_name_ ABSL_GUARDED_BY(mu_);
  std::map<TableNumber, std::shared_ptr<const TableSchema>> by_number_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_SCHEMA_CACHE_H_
