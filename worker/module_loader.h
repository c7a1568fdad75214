// Loads a deployment's ES modules into an invocation's context: by path, relative imports resolved
// among the modules the request carries, each module's bytes checked against its SHA-256 before it is
// compiled, and compiled code shared across isolates through a V8 code cache keyed by that hash.
// Dynamic import() works only while modules are being imported (CONVEX_ABI.md §8).
#ifndef ISOBAR_WORKER_MODULE_LOADER_H_
#define ISOBAR_WORKER_MODULE_LOADER_H_

#include <cstdint>
#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "v8-context.h"
#include "v8-script.h"
#include "worker/invocation.h"

namespace isobar::worker {

// "./x.js" or "../y.js" against the importing module's path; only relative imports exist.
absl::StatusOr<std::string> ResolveRelative(absl::string_view referrer, absl::string_view specifier);

// Serialised V8 code by SHA-256 of its source (modules, and the runtime's prelude), for the whole
// worker; the oldest entries go first beyond `max_bytes`. Only the JS thread uses it.
class CodeCache {
 public:
  explicit CodeCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The cached code for `sha256`, or null. Valid until the next Store or Drop.
  const std::string* Find(const std::string& sha256);
  void Store(const std::string& sha256, std::string data);
  void Drop(const std::string& sha256);  // V8 rejected it (a different V8 or flags)
  bool Contains(const std::string& sha256) const { return index_.contains(sha256); }

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }
  uint64_t rejects() const { return rejects_; }

 private:
  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<std::pair<std::string, std::string>> entries_;  // oldest first
  absl::flat_hash_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t rejects_ = 0;
};

// The module at `path`, compiled (or found already loaded) in the invocation's context; not yet
// instantiated. On failure an exception is pending or `invocation.failure` is set.
v8::MaybeLocal<v8::Module> LoadModule(v8::Local<v8::Context> context, Invocation& invocation, const std::string& path);

// Loads, instantiates (resolving imports) and evaluates `path`; the evaluation's promise.
v8::MaybeLocal<v8::Value> EvaluateModule(v8::Local<v8::Context> context, Invocation& invocation, const std::string& path,
                                         v8::Local<v8::Module>* module);

// The isolate's dynamic-import callback: import() of a module of the request while the invocation is
// importing (its modules evaluating); refused afterwards, and for modules with top-level await.
v8::MaybeLocal<v8::Promise> DynamicImport(v8::Local<v8::Context> context, v8::Local<v8::Data> host_options,
                                                v8::Local<v8::Value> resource_name, v8::Local<v8::String> specifier,
                                                v8::Local<v8::FixedArray> import_assertions);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_MODULE_LOADER_H_
