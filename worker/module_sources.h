// The module sources this worker has been sent, by SHA-256, so that the supervisor can send a module's
// path and hash alone once this worker has its source (supervisor/workers/worker_pool.h strips sources it has
// sent to the same worker process before). Sources are checked against their hash when they arrive;
// least recently used ones are dropped beyond `max_bytes`.
//
//   ModuleSources sources(256 << 20);
//   absl::Status ready = sources.Resolve(invoke.mutable_function()->mutable_modules());
//
// Resolve fails with FAILED_PRECONDITION kSourcesMissing when a module came without its source and this
// worker does not have it (the supervisor then sends them all), and with DATA_LOSS when a source does
// not match its hash. Not thread-safe: the JS thread's serve loop owns it.
#ifndef ISOBAR_WORKER_MODULE_SOURCES_H_
#define ISOBAR_WORKER_MODULE_SOURCES_H_

#include <list>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::worker {

inline constexpr char kSourcesMissing[] = "module sources missing";

class ModuleSources {
 public:
  explicit ModuleSources(size_t max_bytes) : max_bytes_(max_bytes) {}

  absl::Status Resolve(google::protobuf::RepeatedPtrField<isobar::worker::v1::Module>* modules);

  size_t bytes() const { return bytes_; }

 private:
  void Remember(const std::string& sha256, const std::string& source);

  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::list<std::pair<std::string, std::string>> entries_;  // (sha256, source), least recently used first
  absl::flat_hash_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_MODULE_SOURCES_H_
