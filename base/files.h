// Files written whole or not at all.
//
//   RETURN_IF_ERROR(WriteFileAtomically(path, bytes));   // path.tmp, flushed, then renamed over path
#ifndef ISOBAR_BASE_FILES_H_
#define ISOBAR_BASE_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace isobar {

// Writes `bytes` to `path` through a temporary file beside it (`path` + ".tmp", mode 0600, never
// through a link), flushed, then renamed: a reader sees the old file or the new one, never part of
// it. On failure the temporary file is removed. INTERNAL with errno's text on failure.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes);

}  // namespace isobar

#endif  // ISOBAR_BASE_FILES_H_
