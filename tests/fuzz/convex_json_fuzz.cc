// The JSON decoder every value from a worker (results, syscall arguments) and a client (arguments)
// goes through: any bytes either fail cleanly or give a value that prints as well-formed UTF-8 and
// parses back to the same value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/utf8.h"
#include "storage/convex_json.h"
#include "storage/value.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  for (bool plain : {false, true}) {
    isobar::storage::ConvexJsonOptions options;
    options.plain = plain;
    options.allow_undefined = plain;
    absl::StatusOr<isobar::storage::Value> value = isobar::storage::ParseConvexJson(input, options);
    if (!value.ok()) continue;
    FUZZ_CHECK(isobar::IsValidUtf8(input));  // only well-formed text is accepted
    if (plain) {
      // Plain JSON becomes Convex values the way syscall arguments do.
      (void)isobar::storage::FromPlainJson(*value, /*allow_undefined=*/true);
      continue;
    }
    const std::string printed = isobar::storage::ToConvexJson(*value);
    FUZZ_CHECK(isobar::IsValidUtf8(printed));
    absl::StatusOr<isobar::storage::Value> again = isobar::storage::ParseConvexJson(printed, options);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(isobar::storage::Compare(*value, *again) == 0);
    FUZZ_CHECK(isobar::storage::ToConvexJson(*again) == printed);
    (void)isobar::storage::ConvexSize(*value);
    (void)isobar::storage::NestingDepth(*value);
  }
  return 0;
}
