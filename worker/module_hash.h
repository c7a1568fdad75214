// SHA-256 checks of module bytes before they are compiled.
#ifndef ISOBAR_WORKER_MODULE_HASH_H_
#define ISOBAR_WORKER_MODULE_HASH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace isobar::worker {

std::string Sha256(absl::string_view data);
// Constant time in the digest comparison.
bool Sha256Matches(absl::string_view data, absl::string_view expected_digest);

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_MODULE_HASH_H_
