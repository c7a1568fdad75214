#include "storage/committer.h"

#include <sys/prctl.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/backoff.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/convex_json.h"

namespace isobar::storage {
namespace {

constexpr char kComponent[] = "committer";
// A commit whose outcome is being looked up is waited for until this long before its deadline.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(250);

Timestamp WallClock() { return Timestamp(absl::ToUnixNanos(absl::Now())); }

// A commit refused, unwritten, while an earlier one's outcome is looked up.
absl::Status NotCommittedWhileResolving() {
  return absl::UnavailableError(
      "the database connection was lost and is being re-established; this mutation was not committed");
}

// The first conflicting change of `commit` for a transaction that read `reads`, or nullptr.
const PublishedCommit::Change* Conflict(const ReadSet& reads, const PublishedCommit& commit) {
  for (const PublishedCommit::Change& change : commit.changes) {
    for (const auto& [index, key] : change.keys) {
      if (reads.Contains(index, key)) return &change;
    }
  }
  return nullptr;
}

}  // namespace

Committer::Committer(Persistence& persistence, CommitterOptions options)
    : persistence_(persistence), options_(std::move(options)) {}

Committer::~Committer() { Stop(); }

absl::Status Committer::Start() {
  auto sent = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(AcquiredLease acquired, AcquireLease(persistence_.pool(), persistence_.deployment(), options_.lease));
  lease_ = acquired.epoch;
  previous_holder_ = acquired.previous_holder;
  lease_lost_ = false;
  if (!acquired.displaced.empty()) {
    // Taken over from a live holder: it trusts its lease for up to `duration` after its last renewal,
    // which came before our bump; serving starts once that has passed, so it serves nothing stale.
    ISOBAR_LOG(kWarning, kComponent) << "deployment " << persistence_.deployment().value() << " taken over from "
                                     << acquired.displaced << "; waiting "
                                     << absl::FormatDuration(options_.lease.duration)
                                     << " for its lease to lapse before serving";
    // Renewed meanwhile, so that it does not look lapsed to anyone else while we wait.
    const absl::Time serve_at = absl::Now() + options_.lease.duration + absl::Milliseconds(200);
    for (;;) {
      sent = std::chrono::steady_clock::now();
      ASSIGN_OR_RETURN(std::vector<DeploymentId> kept,
                       RenewLeases(persistence_.pool(), options_.lease.holder, {{persistence_.deployment(), lease_}}));
      if (kept.empty()) return absl::UnavailableError("the deployment's lease was taken again while we waited");
      const absl::Time now = absl::Now();
      if (now >= serve_at) break;
      absl::SleepFor(std::min(options_.lease.renew_interval, serve_at - now));
    }
  }
  LeaseRenewed(sent);
  ASSIGN_OR_RETURN(Timestamp max_ts, persistence_.MaxTimestamp());
  absl::MutexLock lock(&mu_);
  if (running_) return absl::FailedPreconditionError("the committer is already running");
  latest_ = max_ts;
  purged_ = max_ts;
  last_assigned_ = max_ts;
  running_ = true;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Committer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    stopping_ = true;
  }
  thread_.join();
  {
    absl::MutexLock lock(&mu_);
    running_ = false;
  }
  lease_valid_until_ = 0;
}

bool Committer::LeaseValid() const {
  if (lease_lost_.load()) return false;
  return !options_.lease.time_bound ||
         std::chrono::steady_clock::now().time_since_epoch().count() < lease_valid_until_.load(std::memory_order_acquire);
}

void Committer::LeaseRenewed(std::chrono::steady_clock::time_point sent) {
  const int64_t until = (sent + absl::ToChronoNanoseconds(options_.lease.duration)).time_since_epoch().count();
  int64_t current = lease_valid_until_.load();
  while (until > current && !lease_valid_until_.compare_exchange_weak(current, until)) {
  }
}

void Committer::LeaseLost() {
  lease_lost_ = true;
  lease_valid_until_ = 0;
  absl::MutexLock lock(&mu_);
  if (failed_.ok()) failed_ = absl::FailedPreconditionError("lease lost: another supervisor took this deployment over");
}

Timestamp Committer::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

Committer::Stats Committer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

absl::StatusOr<Timestamp> Committer::Commit(const Transaction& txn, absl::Time deadline) {
  if (txn.read_only()) return txn.begin_ts();
  auto request = std::make_shared<Request>(&txn);
  absl::MutexLock lock(&mu_);
  if (!running_ || stopping_) return absl::UnavailableError("the committer is not running");
  if (!failed_.ok()) return failed_;
  if (resolving_) {
    return NotCommittedWhileResolving();
  }
  queue_.push_back(request);
  const absl::Condition settled(
      +[](Request* r) { return r->done || r->phase == Phase::kResolving; }, request.get());
  mu_.AwaitWithDeadline(settled, deadline);
  if (!request->done && request->phase == Phase::kQueued) {  // the deadline passed first
    queue_.erase(std::find(queue_.begin(), queue_.end(), request));
    return absl::DeadlineExceededError("the call's deadline passed before its commit was written; nothing was committed");
  }
  // Being written: the answer comes soon, unless PostgreSQL left it unknown and it is looked up.
  mu_.Await(settled);
  if (!request->done) {
    // Looked up until shortly before the deadline, so that the caller still hears it is unknown.
    mu_.AwaitWithDeadline(absl::Condition(&request->done), deadline - kAnswerMargin);
  }
  return request->done ? request->result : CommitOutcomeUnknownError();
}

absl::Status Committer::Barrier() {
  auto request = std::make_shared<Request>(nullptr);
  absl::MutexLock lock(&mu_);
  if (!running_ || stopping_) return absl::UnavailableError("the committer is not running");
  if (!failed_.ok()) return failed_;
  queue_.push_back(request);
  mu_.Await(absl::Condition(&request->done));
  return absl::OkStatus();
}

Timestamp Committer::NextTimestamp() {
  Timestamp now = options_.clock ? options_.clock() : WallClock();
  last_assigned_ = Timestamp(std::max(now.value(), last_assigned_.value() + 1));
  return last_assigned_;
}

bool Committer::Stage(Request& request, const std::vector<PublishedCommit>& staged_log,
                      std::vector<CommitWrites>* writes, std::vector<PublishedCommit>* published) {
  const Transaction& txn = *request.txn;
  if (txn.schema_changed()) {
    request.result = absl::AbortedError("The database schema changed while this transaction was being run; retry it");
    return false;
  }
  const PublishedCommit::Change* conflict = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (txn.begin_ts() < purged_) {
      request.result = absl::AbortedError(
          "Transaction is too old to validate (its snapshot left the write log); retry it");
      return false;
    }
    for (auto it = log_.rbegin(); it != log_.rend() && it->ts > txn.begin_ts() && conflict == nullptr; ++it) {
      conflict = Conflict(txn.reads(), *it);
    }
  }
  for (const PublishedCommit& earlier : staged_log) {
    if (conflict != nullptr) break;
    conflict = Conflict(txn.reads(), earlier);
  }
  if (conflict != nullptr) {
    request.result = absl::AbortedError(absl::StrCat(
        "Documents read from or written to the \"", conflict->table,
        "\" table changed while this transaction was being run; another call changed the document with ID \"",
        EncodeDocumentId(conflict->id), "\""));
    return false;
  }

  CommitWrites commit;
  commit.ts = NextTimestamp();
  PublishedCommit log_entry;
  log_entry.ts = commit.ts;
  std::set<TableNumber> inserted_into;
  for (const auto& [id, write] : txn.writes()) {
    const TableSchema& table = *write.table;
    DocumentWrite doc{id.table, id.internal, write.old_ts, std::nullopt};
    if (write.new_document.has_value()) doc.value_json = ToConvexJson(*write.new_document);
    commit.documents.push_back(std::move(doc));
    PublishedCommit::Change change{id, table.table.name, {}};
    if (!write.old_document.has_value() && inserted_into.insert(table.table.number).second) {
      // A table's first document comes with an insert: whoever saw the table missing must hear of it.
      change.keys.emplace_back(kTableCatalogIndex, TableNameKey(table.table.name));
      change.keys.emplace_back(kTableCatalogIndex, TableNumberKey(table.table.number));
    }
    for (const IndexInfo& index : table.indexes) {
      std::optional<std::string> old_key, new_key;
      if (write.old_document.has_value()) old_key = IndexKeyOf(*write.old_document, index.fields);
      if (write.new_document.has_value()) new_key = IndexKeyOf(*write.new_document, index.fields);
      if (old_key.has_value()) change.keys.emplace_back(index.id, *old_key);
      if (new_key.has_value() && new_key != old_key) change.keys.emplace_back(index.id, *new_key);
      if (index.name == kByIdIndex) continue;  // logical: served from the document log
      if (old_key.has_value() && old_key != new_key) {
        commit.index_entries.push_back(IndexWrite{index.id, *old_key, true, TableNumber(0), {}});
      }
      if (new_key.has_value()) {
        // Written even when the key is unchanged: entries point at the revision that wrote them.
        commit.index_entries.push_back(IndexWrite{index.id, *new_key, false, id.table, id.internal});
      }
    }
    log_entry.changes.push_back(std::move(change));
  }
  writes->push_back(std::move(commit));
  published->push_back(std::move(log_entry));
  request.result = published->back().ts;
  return true;
}

absl::Status Committer::WriteGroup(const std::vector<CommitWrites>& writes, const std::vector<RequestPtr>& staged) {
  absl::Status written = persistence_.Write(writes, lease_);
  if (!IsAmbiguousCommit(written)) return written;
  return ResolveAmbiguous(writes, staged);
}

absl::Status Committer::ResolveAmbiguous(const std::vector<CommitWrites>& writes,
                                         const std::vector<RequestPtr>& staged) {
  std::deque<RequestPtr> refused;
  {
    absl::MutexLock lock(&mu_);
    ++stats_.ambiguous;
    resolving_ = true;
    for (const RequestPtr& request : staged) request->phase = Phase::kResolving;
    // Nothing queued behind the group can be written before its outcome is known: those calls fail
    // now, retryably, rather than wait for a database that may be away for long.
    refused.swap(queue_);
    for (const RequestPtr& request : refused) {
      if (request->txn == nullptr) {
        queue_.push_back(request);  // a barrier waits for the answer
        continue;
      }
      request->result = NotCommittedWhileResolving();
      request->done = true;
    }
  }
  ISOBAR_LOG(kWarning, kComponent) << "the database connection broke during a commit (ts " << writes.front().ts
                                   << "); its outcome is looked up when PostgreSQL answers again";
  // The group is all or nothing, so its first commit tells.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<bool> exists = persistence_.CommitExists(writes.front().ts);
    if (exists.ok()) {
      ISOBAR_LOG(kWarning, kComponent) << "the commit whose outcome was unknown " << (*exists ? "did" : "did not")
                                       << " happen (ts " << writes.front().ts << ")";
      absl::MutexLock lock(&mu_);
      resolving_ = false;
      return *exists ? absl::OkStatus()
                     : absl::UnavailableError("the database connection was lost; the commit did not happen");
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                             JitteredBackoff(absl::Milliseconds(50), absl::Seconds(1), attempt))) {
      // Shutting down with the answer unknown: the callers hear so, and nothing more is written.
      resolving_ = false;
      failed_ = CommitOutcomeUnknownError();
      return failed_;
    }
  }
}

void Committer::Loop() {
  prctl(PR_SET_NAME, "isobar-commit");
  for (;;) {
    std::vector<RequestPtr> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Committer* c) ABSL_NO_THREAD_SAFETY_ANALYSIS { return c->stopping_ || !c->queue_.empty(); }, this));
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && group.size() < options_.max_group) {
        group.push_back(queue_.front());
        group.back()->phase = Phase::kTaken;
        queue_.pop_front();
      }
    }
    std::vector<CommitWrites> writes;
    std::vector<PublishedCommit> published;
    std::vector<RequestPtr> staged, refused;
    for (const RequestPtr& request : group) {
      if (request->txn == nullptr) continue;  // a barrier: done when this group is
      (Stage(*request, published, &writes, &published) ? staged : refused).push_back(request);
    }
    {
      // Refused while staging (conflicts): answered now, not after the group's write, which may wait
      // for PostgreSQL to come back.
      absl::MutexLock lock(&mu_);
      stats_.conflicts += refused.size();
      for (const RequestPtr& request : refused) request->done = true;
    }
    absl::Status written = writes.empty() ? absl::OkStatus() : WriteGroup(writes, staged);
    {
      absl::MutexLock lock(&mu_);
      if (written.ok() && !published.empty()) {
        for (const PublishedCommit& commit : published) log_.push_back(commit);
        latest_ = log_.back().ts;
        stats_.commits += staged.size();
        ++stats_.groups;
        // Keep the write log to its retention window.
        const int64_t horizon = latest_.value() - absl::ToInt64Nanoseconds(options_.write_log_retention);
        while (!log_.empty() && log_.front().ts.value() < horizon) {
          purged_ = log_.front().ts;
          log_.pop_front();
        }
      } else if (!written.ok()) {
        for (const RequestPtr& request : staged) request->result = written;
        if (absl::IsFailedPrecondition(written)) {  // lease lost
          failed_ = written;
          lease_lost_ = true;
          lease_valid_until_ = 0;
        }
      }
    }
    // Published (visible to new transactions); now subscribers hear of it, then callers are answered.
    if (written.ok() && publish_hook_) {
      for (const PublishedCommit& commit : published) publish_hook_(commit);
    }
    absl::MutexLock lock(&mu_);
    for (const RequestPtr& request : group) request->done = true;
  }
}

}  // namespace isobar::storage
