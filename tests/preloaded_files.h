// Files a test suite reads, loaded before a seccomp filter goes in and served from memory afterwards
// (the syscall census runs suites under the worker's policy, where open() fails). Outside the census
// nothing is preloaded and readers go to the file system as usual.
#ifndef ISOBAR_TESTS_PRELOADED_FILES_H_
#define ISOBAR_TESTS_PRELOADED_FILES_H_

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace isobar::testing {

// Reads `path` now.
absl::Status PreloadFile(const std::string& path);

// The preloaded bytes of `path`, if it was preloaded.
std::optional<std::string> PreloadedFile(const std::string& path);

}  // namespace isobar::testing

#endif  // ISOBAR_TESTS_PRELOADED_FILES_H_
