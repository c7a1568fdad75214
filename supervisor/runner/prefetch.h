// Reads made ahead of a function (issue 20, "batch a call's first reads with its Invoke"): a client's
// query or mutation whose arguments name documents by id gets them read in its own transaction before
// its Invoke goes out, and sent with it (Invoke.prefetched). The function's db.get of one of them is
// then answered in the worker, without a host call's round trip, while the function has made no call
// but reads (its own writes would change what the get sees; the transaction's snapshot does not
// change otherwise). Only the reads the function made count: the worker says which ids it answered
// (Done.prefetched_used) and NoteUsed records each as a db.get would have (read set, counts), so
// conflicts, subscriptions and the query cache see exactly the function's reads.
//
// A function that does not read its arguments' documents stops getting them (Wanted), so it does not
// pay for reads it does not make; it is tried again now and then.
//
//   candidates = Prefetcher::Candidates(args);                    // at the call's start
//   if (!candidates.empty() && prefetcher.Wanted(key)) reads = Prefetcher::ReadAhead(txn, candidates);
//   ... Invoke.prefetched from `reads` ...
//   ASSIGN_OR_RETURN(size_t used, Prefetcher::NoteUsed(txn, reads, done.prefetched_used()));   // at its Done
//   prefetcher.Record(key, used > 0);
#ifndef ISOBAR_SUPERVISOR_RUNNER_PREFETCH_H_
#define ISOBAR_SUPERVISOR_RUNNER_PREFETCH_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "storage/transaction.h"
#include "storage/value.h"

namespace isobar::supervisor {

class Prefetcher {
 public:
  // One document read ahead.
  struct Read {
    std::string id_text;  // as the arguments hold it (and the function passes it to db.get)
    storage::DocumentId id;
    std::optional<storage::Value> document;
    std::string result_json;  // what db.get answers (Invoke.prefetched.result_json)
  };
  static constexpr size_t kMaxPerCall = 4;
  // Gets a worker answers from them per invocation; the host answers the rest (and applies the limits).
  static constexpr size_t kMaxUsesPerInvocation = 256;
  // Larger documents are left to the host: the function may not read them, and the Invoke carries them.
  static constexpr size_t kMaxDocumentBytes = 64 << 10;

  // The top-level string arguments that could be document ids (at most kMaxPerCall).
  static std::vector<std::string> Candidates(const storage::Value& args);
  // Reads the candidates that are ids of documents in user tables, in `txn`, recording nothing.
  static absl::StatusOr<std::vector<Read>> ReadAhead(storage::Transaction& txn, const std::vector<std::string>& candidates);

  // Whether calls of the function `key` names (deployment, code version and path) get reads ahead.
  bool Wanted(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);
  // Records in `txn` the reads the worker answered from `reads` (`used`: Done.prefetched_used, ids
  // not among `reads` ignored), as db.get would have. Returns how many; an error if one passed a
  // read limit (as db.get would have failed).
  static absl::StatusOr<size_t> NoteUsed(storage::Transaction& txn, const std::vector<Read>& reads,
                                         const google::protobuf::RepeatedPtrField<std::string>& used);
  // When what the worker used cannot be known or recorded (it died, the call was cut off, a read
  // limit): every document read ahead counts as read, in the read set only, so that a result kept
  // for a query still hears of their changes.
  static void AddAllReads(storage::Transaction& txn, const std::vector<Read>& reads);
  // A call of `key` that got reads ahead used one of them, or not (for Wanted).
  void Record(const std::string& key, bool used) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Usage {
    uint64_t calls = 0;  // calls that got reads ahead
    uint64_t used = 0;   // ... and read at least one of them
    uint64_t skipped = 0;  // calls that did not, since
  };
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Usage> usage_ ABSL_GUARDED_BY(mu_);
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_RUNNER_PREFETCH_H_
