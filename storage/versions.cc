#include "storage/versions.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"
#include "storage/pg_array.h"

namespace isobar::storage {
namespace {

absl::Status Rollback(PgConn& conn, absl::Status status) {
  absl::StatusOr<PgResult> ignored = conn.Exec("ROLLBACK");
  (void)ignored;
  return status;
}

std::string Id(DeploymentId deployment) { return absl::StrCat(deployment.value()); }

}  // namespace

absl::StatusOr<int64_t> Versions::Publish(DeploymentId deployment, const std::vector<ModuleInfo>& modules,
                                          absl::string_view analysis_json, absl::string_view context_policy) {
  if (modules.empty()) return absl::InvalidArgumentError("a version needs at least one module");
  if (context_policy != "" && context_policy != "fresh" && context_policy != "warm") {
    return absl::InvalidArgumentError("a version's context policy is fresh or warm");
  }
  // The analysis comes from a worker: check it is a JSON object before the database sees it.
  ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Value> analysis = ParseConvexJson(analysis_json, plain);
  if (!analysis.ok() || analysis->type() != Value::Type::kObject) {
    return absl::InvalidArgumentError("the analysis of a version must be a JSON object");
  }
  std::set<std::string> paths;
  PgArrayBuilder shas, sources, source_maps, version_paths, version_shas;
  for (const ModuleInfo& module : modules) {
    RETURN_IF_ERROR(ValidateModulePath(module.path));
    if (!paths.insert(module.path).second) {
      return absl::InvalidArgumentError(absl::StrCat("module ", module.path, " appears twice"));
    }
    if (module.sha256.size() != 32 || !ConstantTimeEquals(Sha256(module.source), module.sha256)) {
      return absl::InvalidArgumentError(absl::StrCat("module ", module.path, ": the SHA-256 does not match the source"));
    }
    shas.Bytes(module.sha256);
    sources.Text(module.source);
    if (module.source_map.empty()) {
      source_maps.Null();
    } else {
      source_maps.Text(module.source_map);
    }
    version_paths.Text(module.path);
    version_shas.Bytes(module.sha256);
  }
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  RETURN_IF_ERROR(conn->Exec("BEGIN"));
  // One publisher at a time per deployment.
  absl::StatusOr<PgResult> step = conn->Exec(
      "SELECT coalesce(active_version, 0) FROM isobar.deployments WHERE id = $1 FOR UPDATE", {Id(deployment)});
  if (!step.ok()) return Rollback(*conn, step.status());
  if (step->rows() == 0) return Rollback(*conn, absl::NotFoundError("no such deployment"));
  step = conn->Exec("SELECT coalesce(max(version), 0) + 1 FROM isobar.versions WHERE deployment_id = $1", {Id(deployment)});
  if (!step.ok()) return Rollback(*conn, step.status());
  const int64_t version = step->GetInt(0, 0);
  step = conn->Exec(R"sql(
      INSERT INTO isobar.module_sources (deployment_id, sha256, source, source_map)
      SELECT $1, s.sha256, s.source, s.source_map FROM UNNEST($2::bytea[], $3::text[], $4::text[]) AS s (sha256, source, source_map)
      ON CONFLICT (deployment_id, sha256) DO NOTHING)sql",
                    {Id(deployment), shas.Build(), sources.Build(), source_maps.Build()});
  if (!step.ok()) return Rollback(*conn, step.status());
  step = conn->Exec(
      "INSERT INTO isobar.versions (deployment_id, version, analysis, context_policy) VALUES ($1, $2, $3::jsonb, $4)",
      {Id(deployment), absl::StrCat(version), std::string(analysis_json), std::string(context_policy)});
  if (!step.ok()) return Rollback(*conn, step.status());
  step = conn->Exec(R"sql(
      INSERT INTO isobar.version_modules (deployment_id, version, path, sha256)
      SELECT $1, $2, m.path, m.sha256 FROM UNNEST($3::text[], $4::bytea[]) AS m (path, sha256))sql",
                    {Id(deployment), absl::StrCat(version), version_paths.Build(), version_shas.Build()});
  if (!step.ok()) return Rollback(*conn, step.status());
  step = conn->Exec("UPDATE isobar.deployments SET active_version = $2 WHERE id = $1", {Id(deployment), absl::StrCat(version)});
  if (!step.ok()) return Rollback(*conn, step.status());
  RETURN_IF_ERROR(conn->Exec("COMMIT"));
  return version;
}

absl::StatusOr<std::optional<VersionInfo>> Versions::Active(DeploymentId deployment, bool with_sources) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  // One statement: a concurrent publish cannot split what this reads.
  ASSIGN_OR_RETURN(PgResult r, conn->Exec(R"sql(
      SELECT v.version, v.analysis::text, m.path, m.sha256, CASE WHEN $2 THEN s.source END, s.source_map,
             v.context_policy
      FROM isobar.deployments d
      JOIN isobar.versions v ON v.deployment_id = d.id AND v.version = d.active_version
      JOIN isobar.version_modules m ON m.deployment_id = v.deployment_id AND m.version = v.version
      JOIN isobar.module_sources s ON s.deployment_id = m.deployment_id AND s.sha256 = m.sha256
      WHERE d.id = $1
      ORDER BY m.path COLLATE "C")sql",
                                          {Id(deployment), with_sources ? "true" : "false"}));
  if (r.rows() == 0) return std::optional<VersionInfo>();
  VersionInfo info;
  info.version = r.GetInt(0, 0);
  info.analysis_json = std::string(r.Get(0, 1));
  info.context_policy = std::string(r.Get(0, 6));
  for (int i = 0; i < r.rows(); ++i) {
    info.modules.push_back(ModuleInfo{std::string(r.Get(i, 2)), r.GetBytes(i, 3), std::string(r.Get(i, 4)),
                                      with_sources ? std::string(r.Get(i, 5)) : std::string()});
  }
  return std::optional<VersionInfo>(std::move(info));
}

}  // namespace isobar::storage
