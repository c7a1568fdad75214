// Random Convex values for property tests: every type, special floats, empty and NUL-containing
// strings, nested arrays and objects, with many near-equal values so that comparisons go deep.
#ifndef ISOBAR_STORAGE_VALUE_TESTING_H_
#define ISOBAR_STORAGE_VALUE_TESTING_H_

#include <random>

#include "absl/strings/string_view.h"
#include "storage/convex_json.h"
#include "storage/value.h"

namespace isobar::storage::testing {

class RandomValues {
 public:
  explicit RandomValues(uint64_t seed) : rng_(seed) {}
  // A value nested at most `max_depth` containers deep; `allow_undefined` adds undefined scalars.
  Value Next(int max_depth = 3, bool allow_undefined = false);

 private:
  std::string SmallString(bool printable_ascii);
  std::mt19937_64 rng_;
};

// Parses `json` for a test: a parse failure fails the current test (and returns undefined).
Value ParseForTest(absl::string_view json, const ConvexJsonOptions& options = {});

}  // namespace isobar::storage::testing

#endif  // ISOBAR_STORAGE_VALUE_TESTING_H_
