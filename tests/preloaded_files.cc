#include "tests/preloaded_files.h"

#include <fstream>
#include <map>
#include <sstream>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace isobar::testing {
namespace {

absl::Mutex& Mu() {
  static absl::Mutex* mu = new absl::Mutex();
  return *mu;
}

std::map<std::string, std::string>& Files() ABSL_EXCLUSIVE_LOCKS_REQUIRED(Mu()) {
  static auto* files = new std::map<std::string, std::string>();
  return *files;
}

}  // namespace

absl::Status PreloadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::MutexLock lock(&Mu());
  Files()[path] = buffer.str();
  return absl::OkStatus();
}

std::optional<std::string> PreloadedFile(const std::string& path) {
  absl::MutexLock lock(&Mu());
  auto it = Files().find(path);
  if (it == Files().end()) return std::nullopt;
  return it->second;
}

}  // namespace isobar::testing
