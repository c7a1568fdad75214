// A function as a user types it on the command line, named as the API names it: "messages:list",
// "messages.js:list" and "dir/mod:fn" as they are; a module alone ("messages") is its default export.
// Anything else ("", ":", "m:") is passed on for the server to judge: never a crash here.
#ifndef ISOBAR_CLI_FUNCTION_PATH_H_
#define ISOBAR_CLI_FUNCTION_PATH_H_

#include <string>

#include "absl/strings/string_view.h"

namespace isobar::cli {

std::string NormalizeFunctionPath(absl::string_view typed);

}  // namespace isobar::cli

#endif  // ISOBAR_CLI_FUNCTION_PATH_H_
