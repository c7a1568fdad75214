// base/utf8: repaired text is well-formed, well-formed text is kept, repair is idempotent, and the
// validator agrees with the JSON decoder's own check on string contents.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/utf8.h"
#include "storage/convex_json.h"
#include "tests/fuzz/fuzz_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string repaired = isobar::ToValidUtf8(input);
  FUZZ_CHECK(isobar::IsValidUtf8(repaired));
  FUZZ_CHECK(isobar::ToValidUtf8(repaired) == repaired);
  if (isobar::IsValidUtf8(input)) FUZZ_CHECK(repaired == input);
  // Raw bytes inside a JSON string: accepted exactly when well-formed (control characters and the
  // two characters JSON escapes aside).
  bool plain_text = true;
  for (unsigned char c : input) plain_text = plain_text && c >= 0x20 && c != '"' && c != '\\';
  if (plain_text) {
    const bool accepted = isobar::storage::ParseConvexJson("\"" + input + "\"").ok();
    FUZZ_CHECK(accepted == isobar::IsValidUtf8(input));
  }
  return 0;
}
