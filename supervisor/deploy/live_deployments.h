// The deployments this supervisor serves: each one's catalog entry, its open database (committer
// running, holding the deployment's lease) and its active code version, loaded on first use.
//
//   LiveDeployments live(pg_pool);
//   ASSIGN_OR_RETURN(std::shared_ptr<LiveDeployment> d, live.Get("chat-app"));   // NOT_FOUND
//   std::shared_ptr<const CodeVersion> code = d->code();                         // null before a push
//   std::unique_ptr<storage::Transaction> txn = d->db().Begin();
//
// A push calls SetCode with the new version; invocations that already hold the old CodeVersion finish
// on it. Thread-safe.
//
// Opening a deployment takes its writer lease (storage/leases.h); a lease keeper thread renews the
// leases of the open ones every `lease.renew_interval`. A deployment whose lease is not valid now (its
// renewal failed for longer than `lease.duration`) is not served: Get answers UNAVAILABLE and FindOpen
// nothing. One whose lease another supervisor took is closed at once, logged once, not opened again
// while that supervisor holds it, and never taken back over (even with --take-over).
#ifndef ISOBAR_SUPERVISOR_DEPLOY_LIVE_DEPLOYMENTS_H_
#define ISOBAR_SUPERVISOR_DEPLOY_LIVE_DEPLOYMENTS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/log_limiter.h"
#include "storage/catalog.h"
#include "storage/database.h"
#include "storage/leases.h"
#include "storage/pg_pool.h"
#include "storage/validator.h"
#include "supervisor/deploy/code_version.h"

namespace isobar::supervisor {

// Sees every commit a deployment publishes, on its committer's thread (keep it short).
using CommitObserver = std::function<void(const std::string& deployment, const storage::PublishedCommit& commit)>;
// Told when what a deployment's functions run with changes beyond its documents: its active code
// version (a push) or its environment variables. Every cached result of it is stale then.
using CodeObserver = std::function<void(const std::string& deployment)>;

class LiveDeployment {
 public:
  // `file_directory`: where stored files' bytes go instead of PostgreSQL, if not empty.
  LiveDeployment(storage::PgPool& pool, storage::DeploymentInfo info, storage::CommitterOptions options = {},
                 const std::string& file_directory = "")
      : info_(std::move(info)), db_(pool, info_.id, std::move(options), {}, file_directory) {
    Touch();
  }

  const storage::DeploymentInfo& info() const { return info_; }
  storage::Database& db() { return db_; }

  std::shared_ptr<const CodeVersion> code() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return code_;
  }
  void SetCode(std::shared_ptr<const CodeVersion> code) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      code_ = std::move(code);
    }
    if (code_observer_) code_observer_(info_.name);
  }
  // Its environment variables changed (already stored).
  void EnvironmentChanged() {
    if (code_observer_) code_observer_(info_.name);
  }
  // Before the deployment is shared.
  void SetCodeObserver(CodeObserver observer) { code_observer_ = std::move(observer); }

  // For id validators: the name of an id's table, if the table exists.
  storage::TableOfId TableOfId();

  // Serialises pushes of this deployment (schema changes and the version switch).
  absl::Mutex& push_mutex() { return push_mu_; }

  // When it was last asked for (Get, FindOpen): an open deployment idle for long is closed.
  void Touch() { last_used_ns_.store(absl::GetCurrentTimeNanos(), std::memory_order_relaxed); }
  absl::Time last_used() const { return absl::FromUnixNanos(last_used_ns_.load(std::memory_order_relaxed)); }

 private:
  const storage::DeploymentInfo info_;
  storage::Database db_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const CodeVersion> code_ ABSL_GUARDED_BY(mu_);
  CodeObserver code_observer_;
  absl::Mutex push_mu_;
  std::atomic<int64_t> last_used_ns_{0};
};

class LiveDeployments {
 public:
  // `lease_pool` (default: `pool`) renews and gives up leases: a pool of its own keeps that from waiting
  // behind busy calls.
  explicit LiveDeployments(storage::PgPool& pool, storage::LeaseOptions lease = {}, storage::PgPool* lease_pool = nullptr)
      : pool_(pool), lease_pool_(lease_pool != nullptr ? *lease_pool : pool), catalog_(pool), lease_(std::move(lease)) {}
  ~LiveDeployments() { Close(); }

  // Starts the lease keeper (Close stops it). Without it, leases are valid for `lease.duration` after
  // their deployment opened.
  void StartLeaseKeeper() ABSL_LOCKS_EXCLUDED(mu_);
  // Told when this supervisor starts or stops holding a deployment's lease (on the thread that
  // opened or closed it). Before the first Get.
  // Stored files' bytes under `directory` instead of in PostgreSQL (--file-dir). Before the first Get.
  void SetFileDirectory(std::string directory) { file_directory_ = std::move(directory); }
  void SetOwnershipObserver(std::function<void(const std::string& deployment, bool owned)> observer) {
    ownership_observer_ = std::move(observer);
  }
  // Told when a deployment opens whose lease another supervisor held last (it died, or gave it up):
  // that one's unfinished work is orphaned (the scheduler recovers it). Before the first Get.
  void SetAdoptionObserver(std::function<void(const std::string& deployment)> observer) {
    adoption_observer_ = std::move(observer);
  }
  // The deployments whose lease this supervisor holds and trusts now.
  std::vector<std::string> Owned() ABSL_LOCKS_EXCLUDED(mu_);
  const storage::LeaseOptions& lease_options() const { return lease_; }

  // Before the first Get.
  void SetCommitObserver(CommitObserver observer) { observer_ = std::move(observer); }
  void SetCodeObserver(CodeObserver observer) { code_observer_ = std::move(observer); }
  // Told after CloseIdle closed a deployment (what is kept about it elsewhere may go too).
  void SetCloseObserver(std::function<void(const std::string& deployment)> observer) {
    close_observer_ = std::move(observer);
  }
  storage::Catalog& catalog() { return catalog_; }

  // Stops every deployment's committer (before PostgreSQL goes away). Get fails afterwards.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  // The deployment if it is open now (never opens one: no PostgreSQL round trip) and, `to_serve`, its
  // lease is valid. (Not to serve: to tell it of a change, which must not be missed while it lapsed.)
  std::shared_ptr<LiveDeployment> FindOpen(absl::string_view name, bool to_serve = true) ABSL_LOCKS_EXCLUDED(mu_);
  // The deployments open now.
  std::vector<std::shared_ptr<LiveDeployment>> Open() ABSL_LOCKS_EXCLUDED(mu_);

  // NOT_FOUND for a deployment that does not exist; UNAVAILABLE when its database cannot be opened.
  absl::StatusOr<std::shared_ptr<LiveDeployment>> Get(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);

  // Closes the deployments nobody has asked for in `idle` and nobody holds now (no call, stream or
  // push under way): their committers stop and their state goes; the next Get opens them again.
  // How many it closed.
  size_t CloseIdle(absl::Duration idle) ABSL_LOCKS_EXCLUDED(mu_);
  size_t open_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void KeepLeases() ABSL_LOCKS_EXCLUDED(mu_);
  // Gives the leases of closed deployments up, in one statement.
  void Release(const std::vector<std::shared_ptr<LiveDeployment>>& closed);
  // Closes a deployment whose lease another supervisor took.
  void Lost(const std::shared_ptr<LiveDeployment>& deployment) ABSL_LOCKS_EXCLUDED(mu_);

  storage::PgPool& pool_;
  storage::PgPool& lease_pool_;
  std::string file_directory_;
  storage::Catalog catalog_;
  CommitObserver observer_;
  CodeObserver code_observer_;
  std::function<void(const std::string&)> close_observer_;
  std::function<void(const std::string&, bool)> ownership_observer_;
  std::function<void(const std::string&)> adoption_observer_;
  const storage::LeaseOptions lease_;
  LogLimiter log_limiter_{absl::Seconds(30)};
  std::thread keeper_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<LiveDeployment>, std::less<>> open_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool keeper_stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string, std::less<>> lost_ ABSL_GUARDED_BY(mu_);  // taken over by another supervisor
  absl::Mutex open_mu_ ABSL_ACQUIRED_AFTER(mu_);  // one opening at a time (catalog and lease round trips)
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_LIVE_DEPLOYMENTS_H_
