// SHA-256 checks of module bytes before they are compiled, and modules made with their hash.
#ifndef ISOBAR_WORKER_MODULE_HASH_H_
#define ISOBAR_WORKER_MODULE_HASH_H_

#include <string>

#include "absl/strings/string_view.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::worker {

std::string Sha256(absl::string_view data);
// Constant time in the digest comparison.
bool Sha256Matches(absl::string_view data, absl::string_view expected_digest);

// A module of an invocation, with the SHA-256 of `source` (for code that has the source at hand: the
// warm-up, tests, benchmarks).
isobar::worker::v1::Module ModuleFromSource(std::string path, std::string source);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_MODULE_HASH_H_
