#include "storage/catalog.h"

#include <sys/random.h>

#include <limits>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "storage/pg_array.h"
#include "storage/system_tables.h"

namespace isobar::storage {
namespace {

std::string Param(int64_t v) { return absl::StrCat(v); }

absl::Status Rollback(PgConn& conn, absl::Status status) {
  absl::StatusOr<PgResult> ignored = conn.Exec("ROLLBACK");
  (void)ignored;
  return status;
}

// Begins the transaction that creates tables of `deployment`, holding the deployment's row: table
// creation is serialised per deployment so that numbers are assigned without races. Rolled back on
// failure.
absl::Status BeginTableCreation(PgConn& conn, DeploymentId deployment) {
  RETURN_IF_ERROR(conn.Exec("BEGIN").status());
  absl::StatusOr<PgResult> locked =
      conn.Exec("SELECT id FROM isobar.deployments WHERE id = $1 FOR UPDATE", {Param(deployment.value())});
  if (!locked.ok()) return Rollback(conn, locked.status());
  if (locked->rows() == 0) return Rollback(conn, absl::NotFoundError("no such deployment"));
  return absl::OkStatus();
}

absl::Status ReadOnlySystemTable(absl::string_view name) {
  return absl::InvalidArgumentError(absl::StrCat("System tables (prefixed with `_`) are read-only: \"", name, "\""));
}

// Index fields are stored as one text column, separated by a character no field path may contain.
constexpr char kFieldSeparator = ',';

absl::Status ValidateFieldPath(absl::string_view path) {
  if (path.empty() || path.size() > 1024) return absl::InvalidArgumentError("index field paths are 1 to 1024 characters");
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (part.empty() || part[0] == '$') {
      return absl::InvalidArgumentError(absl::StrCat("invalid index field path \"", path, "\""));
    }
    for (char c : part) {
      if (c < 32 || c > 126 || c == kFieldSeparator) {
        return absl::InvalidArgumentError(absl::StrCat("invalid index field path \"", path, "\""));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateModulePath(absl::string_view path) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("Invalid module path \"", absl::CHexEscape(path.substr(0, 80)),
                                                   "\": ", why));
  };
  if (path.empty() || path.size() > 256) return bad("paths are 1 to 256 characters");
  if (!absl::EndsWith(path, ".js")) return bad("modules end in .js");
  for (char c : path) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != '/') return bad("unexpected character");
  }
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == "." || segment == "..") return bad("empty, . or .. segment");
  }
  return absl::OkStatus();
}

absl::Status ValidateDeploymentName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-');
  if (!ok) {
    return absl::InvalidArgumentError("deployment names are 1 to 64 characters of a-z, 0-9 and '-'");
  }
  return absl::OkStatus();
}

absl::Status ValidateIdentifier(absl::string_view what, absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 64 && (absl::ascii_isalpha(name[0]) || name[0] == '_');
  bool all_underscores = true;
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(c) || c == '_');
    all_underscores = all_underscores && c == '_';
  }
  if (!ok || all_underscores) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Invalid ", what, " name \"", absl::CHexEscape(name.substr(0, 80)),
        "\": identifiers are 1 to 64 characters of letters, digits and underscores, start with a letter or "
        "underscore, and are not all underscores"));
  }
  return absl::OkStatus();
}

absl::StatusOr<DeploymentInfo> Catalog::CreateDeployment(absl::string_view name) {
  RETURN_IF_ERROR(ValidateDeploymentName(name));
  std::string key(32, '\0');
  if (getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) {
    return absl::InternalError("getrandom failed");
  }
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  absl::StatusOr<PgResult> r = conn->Exec(
      "INSERT INTO isobar.deployments (name, cursor_key) VALUES ($1, $2) RETURNING id",
      {std::string(name), PgParam::Binary(key)});
  if (absl::IsAlreadyExists(r.status())) {
    return absl::AlreadyExistsError(absl::StrCat("deployment \"", name, "\" already exists"));
  }
  if (!r.ok()) return r.status();
  return DeploymentInfo{DeploymentId(r->GetInt(0, 0)), std::string(name), key};
}

absl::StatusOr<DeploymentInfo> Catalog::GetDeployment(absl::string_view name) {
  RETURN_IF_ERROR(ValidateDeploymentName(name));
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT id, cursor_key FROM isobar.deployments WHERE name = $1",
                                          {std::string(name)}));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no deployment \"", name, "\""));
  return DeploymentInfo{DeploymentId(r.GetInt(0, 0)), std::string(name), r.GetBytes(0, 1)};
}

absl::StatusOr<Catalog::FileStorageUse> Catalog::FileStorage(DeploymentId deployment) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT file_quota_bytes, (SELECT coalesce(sum(octet_length(data)), 0)::bigint "
                                          "FROM isobar.file_chunks WHERE deployment_id = $1) "
                                          "FROM isobar.deployments WHERE id = $1",
                                          {Param(deployment.value())}));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no deployment ", deployment.value()));
  FileStorageUse use;
  if (!r.IsNull(0, 0)) use.quota = static_cast<uint64_t>(r.GetInt(0, 0));
  use.used = static_cast<uint64_t>(r.GetInt(0, 1));
  return use;
}

absl::Status Catalog::SetFileQuota(DeploymentId deployment, std::optional<uint64_t> quota) {
  if (quota.has_value() && *quota > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError("the quota is too large");
  }
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("UPDATE isobar.deployments SET file_quota_bytes = $2::bigint WHERE id = $1",
                                          {Param(deployment.value()),
                                           quota.has_value() ? PgParam(absl::StrCat(*quota)) : PgParam::Null()}));
  if (r.affected_rows() == 0) return absl::NotFoundError(absl::StrCat("no deployment ", deployment.value()));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> Catalog::EgressPolicy(DeploymentId deployment) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT egress_policy FROM isobar.deployments WHERE id = $1",
                                          {Param(deployment.value())}));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no deployment ", deployment.value()));
  if (r.IsNull(0, 0)) return std::optional<std::string>();
  return std::optional<std::string>(std::string(r.Get(0, 0)));
}

absl::Status Catalog::SetEgressPolicy(DeploymentId deployment, std::optional<std::string> policy_json) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("UPDATE isobar.deployments SET egress_policy = $2 WHERE id = $1",
                                          {Param(deployment.value()),
                                           policy_json.has_value() ? PgParam(*policy_json) : PgParam::Null()}));
  if (r.affected_rows() == 0) return absl::NotFoundError(absl::StrCat("no deployment ", deployment.value()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> Catalog::DeploymentsWithTable(TableNumber number) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT d.name FROM isobar.deployments d JOIN isobar.tables t"
                                          " ON t.deployment_id = d.id WHERE t.number = $1 ORDER BY d.name",
                                          {Param(number.value())}));
  std::vector<std::string> names;
  for (int row = 0; row < r.rows(); ++row) names.emplace_back(r.Get(row, 0));
  return names;
}

absl::StatusOr<std::optional<TableInfo>> Catalog::FindTable(DeploymentId deployment, absl::string_view name) {
  RETURN_IF_ERROR(ValidateIdentifier("table", name));
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT number FROM isobar.tables WHERE deployment_id = $1 AND name = $2",
                                          {Param(deployment.value()), std::string(name)}));
  if (r.rows() == 0) return std::optional<TableInfo>();
  return std::optional<TableInfo>(TableInfo{TableNumber(static_cast<uint32_t>(r.GetInt(0, 0))), std::string(name)});
}

absl::StatusOr<std::optional<TableInfo>> Catalog::FindTable(DeploymentId deployment, TableNumber number) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT name FROM isobar.tables WHERE deployment_id = $1 AND number = $2",
                                          {Param(deployment.value()), Param(number.value())}));
  if (r.rows() == 0) return std::optional<TableInfo>();
  return std::optional<TableInfo>(TableInfo{number, std::string(r.Get(0, 0))});
}

absl::StatusOr<TableInfo> Catalog::GetOrCreateTable(DeploymentId deployment, absl::string_view name,
                                                    std::optional<TableNumber> number) {
  ASSIGN_OR_RETURN(std::optional<TableInfo> existing, FindTable(deployment, name));
  if (existing.has_value()) return *existing;
  const SystemTable* system = FindSystemTable(name);
  if (name[0] == '_' && system == nullptr) return ReadOnlySystemTable(name);
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  RETURN_IF_ERROR(BeginTableCreation(*conn, deployment));
  absl::StatusOr<PgResult> step = conn->Exec("SELECT number FROM isobar.tables WHERE deployment_id = $1 AND name = $2",
                    {Param(deployment.value()), std::string(name)});
  if (!step.ok()) return Rollback(*conn, step.status());
  if (step->rows() > 0) {
    TableInfo info{TableNumber(static_cast<uint32_t>(step->GetInt(0, 0))), std::string(name)};
    RETURN_IF_ERROR(conn->Exec("COMMIT"));
    return info;
  }
  // A system table has its own number; a user table gets the lowest free number from 10001.
  if (system != nullptr) {
    step = conn->Exec("SELECT $1::integer", {Param(system->number)});
  } else if (number.has_value()) {
    step = conn->Exec("SELECT name FROM isobar.tables WHERE deployment_id = $1 AND number = $2",
                      {Param(deployment.value()), Param(number->value())});
    if (!step.ok()) return Rollback(*conn, step.status());
    if (step->rows() > 0 || number->value() < kFirstUserTableNumber) {
      return Rollback(*conn, absl::FailedPreconditionError(absl::StrCat(
                                 "table \"", name, "\" cannot have number ", number->value(), " here: ",
                                 step->rows() > 0 ? absl::StrCat("table \"", step->Get(0, 0), "\" has it")
                                                  : "it is a system table's")));
    }
    step = conn->Exec("SELECT $1::integer", {Param(number->value())});
  } else {
    step = conn->Exec(R"sql(
      SELECT coalesce(min(n), $2) FROM (
        SELECT $2::integer AS n WHERE NOT EXISTS (SELECT 1 FROM isobar.tables WHERE deployment_id = $1 AND number = $2)
        UNION ALL
        SELECT number + 1 FROM isobar.tables t WHERE deployment_id = $1 AND number >= $2
          AND NOT EXISTS (SELECT 1 FROM isobar.tables u WHERE u.deployment_id = $1 AND u.number = t.number + 1)
      ) free)sql",
                    {Param(deployment.value()), Param(kFirstUserTableNumber)});
  }
  if (!step.ok()) return Rollback(*conn, step.status());
  TableInfo info{TableNumber(static_cast<uint32_t>(step->GetInt(0, 0))), std::string(name)};
  step = conn->Exec("INSERT INTO isobar.tables (deployment_id, number, name) VALUES ($1, $2, $3)",
                    {Param(deployment.value()), Param(info.number.value()), std::string(name)});
  if (!step.ok()) return Rollback(*conn, step.status());
  for (const auto& [index, fields] : {std::pair<const char*, std::vector<std::string>>{kByIdIndex, {"_id"}},
                                      {kByCreationTimeIndex, {"_creationTime", "_id"}}}) {
    absl::StatusOr<IndexInfo> created = InsertIndex(*conn, deployment, info.number, index, fields, true);
    if (!created.ok()) return Rollback(*conn, created.status());
  }
  if (system != nullptr) {
    for (const auto& [index, declared] : system->indexes) {
      std::vector<std::string> fields = declared;
      fields.push_back("_creationTime");
      fields.push_back("_id");
      absl::StatusOr<IndexInfo> created = InsertIndex(*conn, deployment, info.number, index, fields, true);
      if (!created.ok()) return Rollback(*conn, created.status());
    }
  }
  RETURN_IF_ERROR(conn->Exec("COMMIT"));
  return info;
}

absl::StatusOr<std::vector<std::string>> Catalog::CreateTables(DeploymentId deployment,
                                                               const std::vector<NewTable>& tables) {
  std::vector<std::string> existing;
  if (tables.empty()) return existing;
  PgArrayBuilder names;
  for (const NewTable& table : tables) {
    RETURN_IF_ERROR(ValidateIdentifier("table", table.name));
    if (table.name[0] == '_') return ReadOnlySystemTable(table.name);
    for (const auto& [index, fields] : table.indexes) {
      RETURN_IF_ERROR(ValidateIdentifier("index", index));
      for (const std::string& field : fields) RETURN_IF_ERROR(ValidateFieldPath(field));
    }
    names.Text(table.name);
  }
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  RETURN_IF_ERROR(BeginTableCreation(*conn, deployment));
  absl::StatusOr<PgResult> step = conn->Exec("SELECT name FROM isobar.tables WHERE deployment_id = $1 AND name = ANY($2::text[])",
                    {Param(deployment.value()), names.Build()});
  if (!step.ok()) return Rollback(*conn, step.status());
  std::set<std::string> taken;
  for (int r = 0; r < step->rows(); ++r) taken.emplace(step->Get(r, 0));
  // The lowest free user table numbers, and index ids after the highest ever used.
  step = conn->Exec("SELECT number FROM isobar.tables WHERE deployment_id = $1 AND number >= $2 ORDER BY number",
                    {Param(deployment.value()), Param(kFirstUserTableNumber)});
  if (!step.ok()) return Rollback(*conn, step.status());
  std::set<uint32_t> used;
  for (int r = 0; r < step->rows(); ++r) used.insert(static_cast<uint32_t>(step->GetInt(r, 0)));
  step = conn->Exec("SELECT coalesce(max(id), 0) FROM isobar.indexes WHERE deployment_id = $1", {Param(deployment.value())});
  if (!step.ok()) return Rollback(*conn, step.status());
  int64_t next_index = step->GetInt(0, 0) + 1;
  uint32_t next_number = kFirstUserTableNumber;
  PgArrayBuilder t_number, t_name;
  struct Rows {
    PgArrayBuilder id, table, name, fields;
    size_t count = 0;
  } rows;
  // Index rows go in chunks, each one statement well inside the pool's statement timeout.
  auto flush = [&]() -> absl::Status {
    if (rows.count == 0) return absl::OkStatus();
    absl::StatusOr<PgResult> inserted = conn->Exec(R"sql(
        INSERT INTO isobar.indexes (deployment_id, id, table_number, name, fields, state)
        SELECT $1, i, t, n, f, 'ready' FROM UNNEST($2::bigint[], $3::integer[], $4::text[], $5::text[]) AS u(i, t, n, f))sql",
                                                   {Param(deployment.value()), rows.id.Build(), rows.table.Build(),
                                                    rows.name.Build(), rows.fields.Build()});
    rows = Rows{};
    return inserted.status();
  };
  auto add_index = [&](uint32_t table, const std::string& name, std::vector<std::string> fields) -> absl::Status {
    rows.id.Int(next_index++);
    rows.table.Int(table);
    rows.name.Text(name);
    rows.fields.Text(absl::StrJoin(fields, std::string(1, kFieldSeparator)));
    return ++rows.count < 10000 ? absl::OkStatus() : flush();
  };
  for (const NewTable& table : tables) {
    if (taken.count(table.name) > 0) {
      existing.push_back(table.name);
      continue;
    }
    while (used.count(next_number) > 0) ++next_number;
    const uint32_t number = next_number++;
    t_number.Int(number);
    t_name.Text(table.name);
    absl::Status added = add_index(number, kByIdIndex, {"_id"});
    if (added.ok()) added = add_index(number, kByCreationTimeIndex, {"_creationTime", "_id"});
    for (const auto& [index, declared] : table.indexes) {
      if (!added.ok()) break;
      std::vector<std::string> fields = declared;
      fields.push_back("_creationTime");
      fields.push_back("_id");
      added = add_index(number, index, std::move(fields));
    }
    if (!added.ok()) return Rollback(*conn, added);
  }
  step = conn->Exec(R"sql(
      INSERT INTO isobar.tables (deployment_id, number, name)
      SELECT $1, n, t FROM UNNEST($2::integer[], $3::text[]) AS u(n, t))sql",
                    {Param(deployment.value()), t_number.Build(), t_name.Build()});
  if (!step.ok()) return Rollback(*conn, step.status());
  if (absl::Status flushed = flush(); !flushed.ok()) return Rollback(*conn, flushed);
  RETURN_IF_ERROR(conn->Exec("COMMIT"));
  return existing;
}

absl::StatusOr<std::vector<TableInfo>> Catalog::ListTables(DeploymentId deployment) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT number, name FROM isobar.tables WHERE deployment_id = $1 ORDER BY number",
                                          {Param(deployment.value())}));
  std::vector<TableInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({TableNumber(static_cast<uint32_t>(r.GetInt(i, 0))), std::string(r.Get(i, 1))});
  }
  return out;
}

absl::StatusOr<IndexInfo> Catalog::InsertIndex(PgConn& conn, DeploymentId deployment, TableNumber table,
                                               absl::string_view name, std::vector<std::string> fields, bool ready) {
  ASSIGN_OR_RETURN(PgResult id, conn.Exec(
                                    "SELECT coalesce(max(id), 0) + 1 FROM isobar.indexes WHERE deployment_id = $1",
                                    {Param(deployment.value())}));
  IndexInfo info{IndexId(id.GetInt(0, 0)), table, std::string(name), std::move(fields), ready};
  absl::StatusOr<PgResult> inserted = conn.Exec(
      "INSERT INTO isobar.indexes (deployment_id, id, table_number, name, fields, state) VALUES ($1, $2, $3, $4, $5, $6)",
      {Param(deployment.value()), Param(info.id.value()), Param(table.value()), info.name,
       absl::StrJoin(info.fields, std::string(1, kFieldSeparator)), ready ? "ready" : "backfilling"});
  if (absl::IsAlreadyExists(inserted.status())) {
    return absl::AlreadyExistsError(absl::StrCat("index \"", name, "\" already exists"));
  }
  if (!inserted.ok()) return inserted.status();
  return info;
}

absl::StatusOr<IndexInfo> Catalog::CreateIndex(DeploymentId deployment, TableNumber table, absl::string_view name,
                                               const std::vector<std::string>& fields, bool ready) {
  RETURN_IF_ERROR(ValidateIdentifier("index", name));
  if (name == kByIdIndex || name == kByCreationTimeIndex) {
    return absl::InvalidArgumentError(absl::StrCat("index name \"", name, "\" is reserved"));
  }
  if (fields.empty()) return absl::InvalidArgumentError("an index needs at least one field");
  std::vector<std::string> key_fields;
  for (const std::string& f : fields) {
    RETURN_IF_ERROR(ValidateFieldPath(f));
    if (f == "_creationTime" || f == "_id") {
      return absl::InvalidArgumentError(absl::StrCat("index \"", name, "\" may not list ", f, "; it is appended automatically"));
    }
    key_fields.push_back(f);
  }
  key_fields.push_back("_creationTime");
  key_fields.push_back("_id");
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  RETURN_IF_ERROR(conn->Exec("BEGIN"));
  absl::StatusOr<PgResult> lock =
      conn->Exec("SELECT id FROM isobar.deployments WHERE id = $1 FOR UPDATE", {Param(deployment.value())});
  if (!lock.ok()) return Rollback(*conn, lock.status());
  absl::StatusOr<IndexInfo> created = InsertIndex(*conn, deployment, table, name, std::move(key_fields), ready);
  if (!created.ok()) return Rollback(*conn, created.status());
  RETURN_IF_ERROR(conn->Exec("COMMIT"));
  return created;
}

absl::StatusOr<std::vector<IndexInfo>> Catalog::ListIndexes(DeploymentId deployment, TableNumber table) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec(
                                   "SELECT id, name, fields, state FROM isobar.indexes "
                                   "WHERE deployment_id = $1 AND table_number = $2 AND state <> 'dropped' ORDER BY id",
                                   {Param(deployment.value()), Param(table.value())}));
  std::vector<IndexInfo> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back(IndexInfo{IndexId(r.GetInt(i, 0)), table, std::string(r.Get(i, 1)),
                            absl::StrSplit(r.Get(i, 2), kFieldSeparator), r.Get(i, 3) == "ready"});
  }
  return out;
}

absl::Status Catalog::SetIndexReady(DeploymentId deployment, IndexId index) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("UPDATE isobar.indexes SET state = 'ready' WHERE deployment_id = $1 AND id = $2 "
                                          "AND state = 'backfilling' RETURNING 1",
                                          {Param(deployment.value()), Param(index.value())}));
  if (r.rows() == 0) return absl::NotFoundError("no such index is being backfilled");
  return absl::OkStatus();
}

absl::Status Catalog::DropIndex(DeploymentId deployment, IndexId index) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  RETURN_IF_ERROR(conn->Exec("BEGIN"));
  // The row stays (ids come from max(id) + 1 and must never be reused), renamed out of the way.
  absl::StatusOr<PgResult> dropped = conn->Exec(
      "UPDATE isobar.indexes SET state = 'dropped', name = '~dropped ' || id::text "
      "WHERE deployment_id = $1 AND id = $2 AND name NOT IN ('by_id', 'by_creation_time') RETURNING 1",
      {Param(deployment.value()), Param(index.value())});
  if (!dropped.ok()) return Rollback(*conn, dropped.status());
  if (dropped->rows() == 0) return Rollback(*conn, absl::NotFoundError("no such user index"));
  absl::StatusOr<PgResult> entries = conn->Exec(
      "DELETE FROM isobar.index_entries WHERE deployment_id = $1 AND index_id = $2",
      {Param(deployment.value()), Param(index.value())});
  if (!entries.ok()) return Rollback(*conn, entries.status());
  return conn->Exec("COMMIT").status();
}

absl::Status Catalog::SetEnv(DeploymentId deployment, absl::string_view name, absl::string_view value) {
  RETURN_IF_ERROR(ValidateIdentifier("environment variable", name));
  if (value.size() > 8192) return absl::InvalidArgumentError("environment variable values are at most 8 KiB");
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  return conn->Exec(R"sql(
      INSERT INTO isobar.env_vars (deployment_id, name, value) VALUES ($1, $2, $3)
      ON CONFLICT (deployment_id, name) DO UPDATE SET value = excluded.value)sql",
                    {Param(deployment.value()), std::string(name), std::string(value)})
      .status();
}

absl::StatusOr<std::optional<std::string>> Catalog::GetEnv(DeploymentId deployment, absl::string_view name) {
  if (!ValidateIdentifier("environment variable", name).ok()) return std::optional<std::string>();
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT value FROM isobar.env_vars WHERE deployment_id = $1 AND name = $2",
                                          {Param(deployment.value()), std::string(name)}));
  if (r.rows() == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(r.Get(0, 0)));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Catalog::ListEnv(DeploymentId deployment) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT name, value FROM isobar.env_vars WHERE deployment_id = $1 ORDER BY name COLLATE \"C\"",
                                          {Param(deployment.value())}));
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(std::string(r.Get(i, 0)), std::string(r.Get(i, 1)));
  return out;
}

}  // namespace isobar::storage
