#include "storage/api_keys.h"

#include <sys/random.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/sha256.h"
#include "base/status_macros.h"

namespace isobar::storage {
namespace {

constexpr absl::string_view kPrefix = "isobar_";

const char* ScopeName(KeyScope scope) { return scope == KeyScope::kDeploymentAdmin ? "admin" : "functions"; }

}  // namespace

absl::StatusOr<std::string> ApiKeys::Create(DeploymentId deployment, KeyScope scope) {
  std::string secret(32, '\0');
  if (getrandom(secret.data(), secret.size(), 0) != static_cast<ssize_t>(secret.size())) {
    return absl::InternalError("getrandom failed");
  }
  const std::string key = absl::StrCat(kPrefix, absl::BytesToHexString(secret));
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  RETURN_IF_ERROR(conn->Exec("INSERT INTO isobar.api_keys (key_hash, deployment_id, scope) VALUES ($1, $2, $3)",
                             {PgParam::Binary(Sha256(key)), absl::StrCat(deployment.value()), ScopeName(scope)})
                      .status());
  return key;
}

absl::StatusOr<std::optional<KeyScope>> ApiKeys::Verify(DeploymentId deployment, absl::string_view key) {
  if (!absl::StartsWith(key, kPrefix) || key.size() != kPrefix.size() + 64) return std::optional<KeyScope>();
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  // Looked up by hash: the key itself never reaches the database, and the comparison is of hashes.
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT deployment_id, scope FROM isobar.api_keys WHERE key_hash = $1",
                                          {PgParam::Binary(Sha256(key))}));
  if (r.rows() != 1 || r.GetInt(0, 0) != deployment.value()) return std::optional<KeyScope>();
  return std::optional<KeyScope>(r.Get(0, 1) == "admin" ? KeyScope::kDeploymentAdmin : KeyScope::kFunctions);
}

absl::StatusOr<int64_t> ApiKeys::Count(DeploymentId deployment) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT count(*) FROM isobar.api_keys WHERE deployment_id = $1",
                                          {absl::StrCat(deployment.value())}));
  return r.GetInt(0, 0);
}

}  // namespace isobar::storage
