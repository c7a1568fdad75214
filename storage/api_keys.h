// Per-deployment API keys for the Functions service. A key is shown once, when it is made; only its
// SHA-256 is stored, so a database dump reveals no key.
//
//   ApiKeys keys(pool);
//   ASSIGN_OR_RETURN(std::string key, keys.Create(deployment.id));   // "isobar_" + 64 hex digits
//   ASSIGN_OR_RETURN(bool ok, keys.Verify(deployment.id, presented));
#ifndef ISOBAR_STORAGE_API_KEYS_H_
#define ISOBAR_STORAGE_API_KEYS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/catalog.h"
#include "storage/pg_pool.h"

namespace isobar::storage {

class ApiKeys {
 public:
  explicit ApiKeys(PgPool& pool) : pool_(pool) {}  // `pool` must outlive this

  // A new key for `deployment` (256 random bits).
  absl::StatusOr<std::string> Create(DeploymentId deployment);
  // Whether `key` is one of `deployment`'s keys. Any other key, including another deployment's, is not.
  absl::StatusOr<bool> Verify(DeploymentId deployment, absl::string_view key);
  absl::StatusOr<int64_t> Count(DeploymentId deployment);

 private:
  PgPool& pool_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_API_KEYS_H_
