#include "storage/pg_pool.h"

#include <utility>

namespace isobar::storage {

PgPool::PgPool(std::string conninfo, int size) : conninfo_(std::move(conninfo)), available_(size) {}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<PgConn> conn;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* available) { return *available > 0; }, &available_));
    --available_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (conn == nullptr) {
    absl::StatusOr<std::unique_ptr<PgConn>> opened = PgConn::Connect(conninfo_);
    if (!opened.ok()) {
      absl::MutexLock lock(&mu_);
      ++available_;
      return opened.status();
    }
    conn = std::move(*opened);
  }
  return Lease(this, std::move(conn));
}

void PgPool::Return(std::unique_ptr<PgConn> conn) {
  absl::MutexLock lock(&mu_);
  if (conn->reusable()) idle_.push_back(std::move(conn));
  ++available_;
}

}  // namespace isobar::storage
