#include "storage/schema_cache.h"

#include "base/status_macros.h"

namespace isobar::storage {

const IndexInfo* TableSchema::Find(absl::string_view index_name) const {
  for (const IndexInfo& index : indexes) {
    if (index.name == index_name) return &index;
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const TableSchema>> SchemaCache::Load(const TableInfo& table) {
  const uint64_t generation = this->generation();
  ASSIGN_OR_RETURN(std::vector<IndexInfo> indexes, catalog_.ListIndexes(deployment_, table.number));
  if (indexes.size() < 2 || indexes[0].name != kByIdIndex || indexes[1].name != kByCreationTimeIndex) {
    return absl::DataLossError("a table is missing its built-in indexes");
  }
  auto schema = std::make_shared<const TableSchema>(TableSchema{table, std::move(indexes)});
  absl::MutexLock lock(&mu_);
  // Cached only if nothing was invalidated meanwhile: what we read may predate the change.
  if (generation_ == generation) {
    by_name_[table.name] = schema;
    by_number_[table.number] = schema;
  }
  return schema;
}

absl::StatusOr<std::shared_ptr<const TableSchema>> SchemaCache::ByName(absl::string_view name, bool create) {
  {
    absl::MutexLock lock(&mu_);
    auto it = by_name_.find(std::string(name));
    if (it != by_name_.end()) return it->second;
  }
  std::optional<TableInfo> table;
  if (create) {
    ASSIGN_OR_RETURN(TableInfo created, catalog_.GetOrCreateTable(deployment_, name));
    table = created;
  } else {
    ASSIGN_OR_RETURN(table, catalog_.FindTable(deployment_, name));
  }
  if (!table.has_value()) return std::shared_ptr<const TableSchema>();
  return Load(*table);
}

absl::StatusOr<std::shared_ptr<const TableSchema>> SchemaCache::ByNumber(TableNumber number) {
  {
    absl::MutexLock lock(&mu_);
    auto it = by_number_.find(number);
    if (it != by_number_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(std::optional<TableInfo> table, catalog_.FindTable(deployment_, number));
  if (!table.has_value()) return std::shared_ptr<const TableSchema>();
  return Load(*table);
}

void SchemaCache::Invalidate(TableNumber number) {
  absl::MutexLock lock(&mu_);
  ++generation_;
  auto it = by_number_.find(number);
  if (it == by_number_.end()) return;
  by_name_.erase(it->second->table.name);
  by_number_.erase(it);
}

}  // namespace isobar::storage
