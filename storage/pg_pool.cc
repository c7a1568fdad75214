#include "storage/pg_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace isobar::storage {

PgPool::PgPool(std::string conninfo, int size, PgPoolOptions options)
    : conninfo_(std::move(conninfo)), size_(size), options_(options), available_(size) {}

absl::StatusOr<std::unique_ptr<PgConn>> PgPool::Open() const {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(conninfo_));
  if (options_.statement_timeout > absl::ZeroDuration()) {
    const int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(options_.statement_timeout));
    RETURN_IF_ERROR(conn->Exec("SELECT set_config('statement_timeout', $1, false)", {absl::StrCat(ms)}).status());
  }
  return conn;
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<PgConn> conn;
  uint64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    if (available_ <= 0) ++stats_.waited;
    if (!mu_.AwaitWithTimeout(absl::Condition(+[](int* available) { return *available > 0; }, &available_),
                              options_.acquire_timeout)) {
      ++stats_.timed_out;
      return absl::UnavailableError(absl::StrCat("PostgreSQL is too slow: all ", size_, " pooled connections stayed busy for ",
                                                 absl::FormatDuration(options_.acquire_timeout)));
    }
    --available_;
    ++stats_.acquired;
    generation = generation_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (conn == nullptr) {
    absl::StatusOr<std::unique_ptr<PgConn>> opened = Open();
    if (!opened.ok()) {
      absl::MutexLock lock(&mu_);
      ++available_;
      ++stats_.open_failures;
      return opened.status();
    }
    conn = std::move(*opened);
  }
  return Lease(this, std::move(conn), generation);
}

void PgPool::Return(std::unique_ptr<PgConn> conn, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (conn->reusable() && generation == generation_) idle_.push_back(std::move(conn));
  ++available_;
}

PgPool::Stats PgPool::stats() const {
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.size = size_;
  stats.leased = size_ - available_;
  return stats;
}

void PgPool::DropIdle() {
  std::vector<std::unique_ptr<PgConn>> dropped;
  absl::MutexLock lock(&mu_);
  ++generation_;
  dropped.swap(idle_);
}

}  // namespace isobar::storage
