// A fixed-size pool of PostgreSQL connections.
//
//   PgPool pool(conninfo, /*size=*/4);
//   ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
//   ASSIGN_OR_RETURN(PgResult r, conn->Exec("SELECT 1"));
//   // the lease returns the connection when it goes out of scope
//
// Connections are opened lazily, and one returned broken or inside a transaction is dropped, so a restarted PostgreSQL is
// reconnected to on the next Acquire. Acquire waits for a free connection; thread-safe.
//
// A stalled database (lock contention, a slow disk) must not hold our threads indefinitely: with
// PgPoolOptions every statement on a pooled connection ends after `statement_timeout` (PostgreSQL cancels
// it: DEADLINE_EXCEEDED, nothing of it applied), and Acquire gives up after `acquire_timeout`
// (UNAVAILABLE). Both are off by default.
#ifndef ISOBAR_STORAGE_PG_POOL_H_
#define ISOBAR_STORAGE_PG_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/pg_conn.h"

namespace isobar::storage {

struct PgPoolOptions {
  absl::Duration statement_timeout = absl::ZeroDuration();   // zero: none
  absl::Duration acquire_timeout = absl::InfiniteDuration();
};

class PgPool {
 public:
  // Borrowed connection; returns itself to the pool.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConn> conn, uint64_t generation)
        : pool_(pool), conn_(std::move(conn)), generation_(generation) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Return(std::move(conn_), generation_);
    }
    PgConn* operator->() const { return conn_.get(); }
    PgConn& operator*() const { return *conn_; }

   private:
    PgPool* pool_;  // not owned; outlives the lease
    std::unique_ptr<PgConn> conn_;
    uint64_t generation_;  // the pool's generation when it was opened or last idled
  };

  PgPool(std::string conninfo, int size, PgPoolOptions options = {});

  // A connection, opening one if needed. UNAVAILABLE if PostgreSQL cannot be reached, or if every
  // connection stays leased for `acquire_timeout`.
  absl::StatusOr<Lease> Acquire() ABSL_LOCKS_EXCLUDED(mu_);

  // Closes the idle connections, and marks those leased now to be closed when they come back: the
  // server they point at went away (PostgresMonitor calls this when it does, and when it is back).
  void DropIdle() ABSL_LOCKS_EXCLUDED(mu_);

  struct Stats {
    uint64_t acquired = 0;       // leases handed out
    uint64_t waited = 0;         // ... of which waited for a connection to come back
    uint64_t timed_out = 0;      // Acquire calls that gave up after acquire_timeout
    uint64_t open_failures = 0;  // connections that could not be opened
    int size = 0;
    int leased = 0;              // now
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Return(std::unique_ptr<PgConn> conn, uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<std::unique_ptr<PgConn>> Open() const;

  const std::string conninfo_;
  const int size_;
  const PgPoolOptions options_;
  mutable absl::Mutex mu_;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<PgConn>> idle_ ABSL_GUARDED_BY(mu_);
  int available_ ABSL_GUARDED_BY(mu_);  // connections that may be leased (idle or not yet opened)
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by DropIdle
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_PG_POOL_H_
