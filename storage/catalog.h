// The catalog of each deployment, in PostgreSQL: deployments, tables (name <-> number), indexes,
// environment variables and modules.
//
//   Catalog catalog(pool);
//   ASSIGN_OR_RETURN(DeploymentInfo d, catalog.CreateDeployment("chat-app"));
//   ASSIGN_OR_RETURN(TableInfo t, catalog.GetOrCreateTable(d.id, "messages"));   // number 10001
//   ASSIGN_OR_RETURN(std::vector<IndexInfo> indexes, catalog.ListIndexes(d.id, t.number));
//
// Every table has two built-in indexes: by_id [_id] (logical: served from the document log) and
// by_creation_time [_creationTime, _id]. A user index's fields get _creationTime and _id appended.
// Names are validated before they go anywhere near PostgreSQL (and even then only as parameters):
// deployment names [a-z0-9-]{1,64}; table and index names are Convex identifiers
// ([A-Za-z_][A-Za-z0-9_]{0,63}, not all underscores; a leading "_" is a system table).
// Thread-safe.
#ifndef ISOBAR_STORAGE_CATALOG_H_
#define ISOBAR_STORAGE_CATALOG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/document_id.h"
#include "storage/pg_pool.h"
#include "storage/types.h"

namespace isobar::storage {

struct DeploymentInfo {
  DeploymentId id;
  std::string name;
  std::string cursor_key;  // 32 random bytes: authenticates this deployment's pagination cursors
};

struct TableInfo {
  TableNumber number;
  std::string name;
};

struct IndexInfo {
  IndexId id;
  TableNumber table;
  std::string name;                 // "by_id", "by_creation_time", or the user's name
  std::vector<std::string> fields;  // the full key: user fields, then _creationTime, _id
  bool ready = true;                // false while being backfilled
};

// A deployment's code: one ES module per path, with the SHA-256 the worker checks before compiling
// (stored by storage/versions.h).
struct ModuleInfo {
  std::string path;    // "messages.js", "_deps/node/chunk-ABC.js"
  std::string sha256;  // 32 raw bytes
  std::string source;
  std::string source_map;  // may be empty
};

inline constexpr char kByIdIndex[] = "by_id";
inline constexpr char kByCreationTimeIndex[] = "by_creation_time";

absl::Status ValidateDeploymentName(absl::string_view name);
absl::Status ValidateIdentifier(absl::string_view what, absl::string_view name);
// Module paths are relative: 1 to 256 characters of [A-Za-z0-9_.-/], no empty, "." or ".." segment,
// ending in ".js".
absl::Status ValidateModulePath(absl::string_view path);

class Catalog {
 public:
  explicit Catalog(PgPool& pool) : pool_(pool) {}  // `pool` must outlive this

  absl::StatusOr<DeploymentInfo> CreateDeployment(absl::string_view name);  // ALREADY_EXISTS if taken
  absl::StatusOr<DeploymentInfo> GetDeployment(absl::string_view name);     // NOT_FOUND
  // A deployment's file storage: the quota the operator set for it (nullopt: the server's default)
  // and the bytes its files hold (those of deleted files until housekeeping collects them).
  struct FileStorageUse {
    std::optional<uint64_t> quota;
    uint64_t used = 0;
  };
  absl::StatusOr<FileStorageUse> FileStorage(DeploymentId deployment);
  // nullopt restores the server's default.
  absl::Status SetFileQuota(DeploymentId deployment, std::optional<uint64_t> quota);
  // The operator's egress policy for the deployment, as the API stored it (JSON); nullopt: the defaults.
  absl::StatusOr<std::optional<std::string>> EgressPolicy(DeploymentId deployment);
  absl::Status SetEgressPolicy(DeploymentId deployment, std::optional<std::string> policy_json);
  // The names of the deployments that have table `number` (a system table's, say), in name order.
  absl::StatusOr<std::vector<std::string>> DeploymentsWithTable(TableNumber number);

  absl::StatusOr<std::optional<TableInfo>> FindTable(DeploymentId deployment, absl::string_view name);
  absl::StatusOr<std::optional<TableInfo>> FindTable(DeploymentId deployment, TableNumber number);
  // Creates a user table (with its built-in indexes) if it does not exist.
  // `number`: the number a new user table must have (a snapshot import), FAILED_PRECONDITION if
  // another table has it; an existing table is returned whatever its number.
  absl::StatusOr<TableInfo> GetOrCreateTable(DeploymentId deployment, absl::string_view name,
                                             std::optional<TableNumber> number = std::nullopt);
  absl::StatusOr<std::vector<TableInfo>> ListTables(DeploymentId deployment);

  // The table's live indexes (dropped ones are not listed).
  absl::StatusOr<std::vector<IndexInfo>> ListIndexes(DeploymentId deployment, TableNumber table);
  // A backfilled index becomes ready (queries may use it).
  absl::Status SetIndexReady(DeploymentId deployment, IndexId index);
  // Drops a user index: it disappears from ListIndexes and its entries are deleted. Its id is never
  // reused, and its name is free again.
  absl::Status DropIndex(DeploymentId deployment, IndexId index);
  // Tables a schema brings, with their user indexes (fields as declared).
  struct NewTable {
    std::string name;
    std::vector<std::pair<std::string, std::vector<std::string>>> indexes;
  };
  // Creates every one of `tables` that does not exist yet, with its built-in and user indexes ready
  // (a new table has no documents to backfill), in one PostgreSQL transaction: all of them or none.
  // The names that exist already (created meanwhile, by a first insert) are returned, untouched.
  absl::StatusOr<std::vector<std::string>> CreateTables(DeploymentId deployment, const std::vector<NewTable>& tables);

  // `fields` as the user declared them; _creationTime and _id are appended. ALREADY_EXISTS if taken.
  absl::StatusOr<IndexInfo> CreateIndex(DeploymentId deployment, TableNumber table, absl::string_view name,
                                        const std::vector<std::string>& fields, bool ready);

  absl::Status SetEnv(DeploymentId deployment, absl::string_view name, absl::string_view value);
  absl::StatusOr<std::optional<std::string>> GetEnv(DeploymentId deployment, absl::string_view name);
  // Every variable, by name.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListEnv(DeploymentId deployment);

 private:
  absl::StatusOr<IndexInfo> InsertIndex(PgConn& conn, DeploymentId deployment, TableNumber table,
                                        absl::string_view name, std::vector<std::string> fields, bool ready);
  PgPool& pool_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_CATALOG_H_
