#include "supervisor/runner/prefetch.h"

#include "base/status_macros.h"
#include "storage/convex_json.h"

namespace isobar::supervisor {
namespace {

// Bounds on what is remembered per function, and on the ids one Done may name.
constexpr size_t kMaxFunctions = 4096;
// Usage needed to keep reading ahead for a function: tried first, then kept while at least a quarter
// of its calls read one of their documents; otherwise one call in kRetryEvery tries again.
constexpr uint64_t kTrialCalls = 16;
constexpr uint64_t kRetryEvery = 64;
// Past this many calls a function's counts are halved, so that what it does now outweighs its past.
constexpr uint64_t kWindowCalls = 1024;

}  // namespace

std::vector<std::string> Prefetcher::Candidates(const storage::Value& args) {
  std::vector<std::string> out;
  if (args.type() != storage::Value::Type::kObject) return out;
  for (const auto& [name, value] : args.object()) {
    if (out.size() >= kMaxPerCall) break;
    // Convex's ids are 31 to 37 base-32 characters; anything else is not one.
    if (value.type() != storage::Value::Type::kString || value.string().size() < 16 || value.string().size() > 64) continue;
    out.push_back(value.string());
  }
  return out;
}

absl::StatusOr<std::vector<Prefetcher::Read>> Prefetcher::ReadAhead(storage::Transaction& txn,
                                                                   const std::vector<std::string>& candidates) {
  std::vector<Read> reads;
  for (const std::string& text : candidates) {
    absl::StatusOr<storage::DocumentId> id = txn.ResolveId("db.get", text, std::nullopt);
    if (!id.ok()) continue;  // not an id
    ASSIGN_OR_RETURN(std::shared_ptr<const storage::TableSchema> table, txn.schemas().ByNumber(id->table));
    // User tables only: what db.system reads, and the private system tables' answer, stay the host's.
    if (table == nullptr || table->table.name.empty() || table->table.name[0] == '_') continue;
    bool seen = false;
    for (const Read& read : reads) seen = seen || read.id_text == text;
    if (seen) continue;
    ASSIGN_OR_RETURN(std::optional<storage::Value> document, txn.Peek(*id));
    std::string result_json = document.has_value() ? storage::ToConvexJson(*document) : std::string("null");
    if (result_json.size() > kMaxDocumentBytes) continue;
    reads.push_back(Read{text, *id, std::move(document), std::move(result_json)});
  }
  return reads;
}

bool Prefetcher::Wanted(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = usage_.find(key);
  if (it == usage_.end()) {
    return true;  // (remembered from its first Record)
  }
  Usage& usage = it->second;
  if (usage.calls < kTrialCalls || usage.used * 4 >= usage.calls) return true;
  if (++usage.skipped % kRetryEvery != 0) return false;
  return true;
}

absl::StatusOr<size_t> Prefetcher::NoteUsed(storage::Transaction& txn, const std::vector<Read>& reads,
                                            const google::protobuf::RepeatedPtrField<std::string>& used) {
  // A worker answers at most kMaxUsesPerInvocation gets (then the host does): a longer list is not one
  // a worker of ours sends.
  if (used.size() > static_cast<int>(kMaxUsesPerInvocation)) {
    return absl::InvalidArgumentError("a worker reported more reads of documents read ahead than it may answer");
  }
  std::vector<const Read*> matched;
  for (const std::string& id : used) {
    for (const Read& read : reads) {
      if (read.id_text == id) {
        matched.push_back(&read);
        break;
      }
    }
  }
  // Every read in the read set first, whatever the counts say: the function has seen the documents.
  for (const Read* read : matched) RETURN_IF_ERROR(txn.AddPointReadOf(read->id));
  for (const Read* read : matched) RETURN_IF_ERROR(txn.NotePeeked(read->id, read->document));
  return matched.size();
}

void Prefetcher::AddAllReads(storage::Transaction& txn, const std::vector<Read>& reads) {
  for (const Read& read : reads) (void)txn.AddPointReadOf(read.id);  // (best effort: a full read set stays full)
}

void Prefetcher::Record(const std::string& key, bool used) {
  absl::MutexLock lock(&mu_);
  if (usage_.size() >= kMaxFunctions && !usage_.contains(key)) {
    // Full: one function is forgotten (it is tried again), not every function of every tenant.
    usage_.erase(usage_.begin());
  }
  Usage& usage = usage_[key];
  ++usage.calls;
  if (used) ++usage.used;
  if (usage.calls >= kWindowCalls) {
    usage.calls /= 2;
    usage.used /= 2;
  }
}

}  // namespace isobar::supervisor
