#include "storage/system_tables.h"

namespace isobar::storage {

const SystemTable* FindSystemTable(absl::string_view name) {
  static const std::vector<SystemTable>* const kTables = new std::vector<SystemTable>{
      {kScheduledFunctionsTable, 1, true, {{"by_state", {"state.kind", "scheduledTime"}}}},
      {kIdempotencyTable, 2, false, {{"by_key", {"key"}}}},
      {kCronJobsTable, 3, false, {{"by_name", {"name"}}}},
      {kStorageTable, 4, true, {}},
  };
  for (const SystemTable& table : *kTables) {
    if (table.name == name) return &table;
  }
  return nullptr;
}

}  // namespace isobar::storage
