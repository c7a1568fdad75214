// Deployment versions: what a push makes. Module sources are stored by content (SHA-256); a version
// maps paths to them and carries the worker's analysis of its exports; one version is active. A push
// publishes a new version and makes it active in one transaction, so an invocation that loaded the
// previous version's modules is never handed a mix.
//
//   Versions versions(pool);
//   ASSIGN_OR_RETURN(int64_t v, versions.Publish(deployment, modules, analysis_json));   // 1, 2, ...
//   ASSIGN_OR_RETURN(std::optional<VersionInfo> active, versions.Active(deployment, /*with_sources=*/true));
#ifndef ISOBAR_STORAGE_VERSIONS_H_
#define ISOBAR_STORAGE_VERSIONS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/catalog.h"
#include "storage/pg_pool.h"

namespace isobar::storage {

struct VersionInfo {
  int64_t version = 0;
  std::vector<ModuleInfo> modules;  // by path; sources only when asked for
  std::string analysis_json;
  std::string context_policy;  // "" (the server's default), "fresh" or "warm"
};

class Versions {
 public:
  explicit Versions(PgPool& pool) : pool_(pool) {}  // `pool` must outlive this

  // Checks every module (path rules, SHA-256 of its source, no path twice), stores the sources and
  // publishes them with `analysis_json` (a JSON object) and `context_policy` ("", "fresh" or "warm")
  // as the deployment's next version, now active.
  absl::StatusOr<int64_t> Publish(DeploymentId deployment, const std::vector<ModuleInfo>& modules,
                                  absl::string_view analysis_json, absl::string_view context_policy = "");
  // The active version; nullopt before the first push.
  absl::StatusOr<std::optional<VersionInfo>> Active(DeploymentId deployment, bool with_sources);

 private:
  PgPool& pool_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_VERSIONS_H_
