// Per-deployment keys. A Functions key calls the deployment's public functions; a deployment admin key
// also administers that deployment (push, environment, internal functions), and nothing else. A key
// is shown once, when it is made; only its SHA-256 is stored, so a database dump reveals no key.
//
//   ApiKeys keys(pool);
//   ASSIGN_OR_RETURN(std::string key, keys.Create(deployment.id, KeyScope::kFunctions));  // "isobar_" + 64 hex
//   ASSIGN_OR_RETURN(std::optional<KeyScope> scope, keys.Verify(deployment.id, presented));
#ifndef ISOBAR_STORAGE_API_KEYS_H_
#define ISOBAR_STORAGE_API_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/catalog.h"
#include "storage/pg_pool.h"

namespace isobar::storage {

enum class KeyScope { kFunctions, kDeploymentAdmin };

class ApiKeys {
 public:
  explicit ApiKeys(PgPool& pool) : pool_(pool) {}  // `pool` must outlive this

  // A new key for `deployment` (256 random bits).
  absl::StatusOr<std::string> Create(DeploymentId deployment, KeyScope scope = KeyScope::kFunctions);
  // The scope of `key` if it is one of `deployment`'s keys; nullopt for any other key, including
  // another deployment's.
  absl::StatusOr<std::optional<KeyScope>> Verify(DeploymentId deployment, absl::string_view key);
  // Keys of every scope.
  absl::StatusOr<int64_t> Count(DeploymentId deployment);

 private:
  PgPool& pool_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_API_KEYS_H_
