#include "storage/database.h"

#include <random>

namespace isobar::storage {

Database::Database(PgPool& pool, DeploymentId deployment, CommitterOptions options, TransactionLimits limits)
    : catalog_(pool),
      schemas_(catalog_, deployment),
      persistence_(pool, deployment),
      committer_(persistence_, std::move(options)),
      limits_(limits) {}

std::unique_ptr<Transaction> Database::Begin() {
  thread_local std::mt19937_64 seeds(std::random_device{}());
  return std::make_unique<Transaction>(persistence_, schemas_, committer_.Latest(), seeds(), limits_);
}

}  // namespace isobar::storage
