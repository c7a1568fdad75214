#include "cli/bundle.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/process.h"
#include "cli/source_map_sources.h"

namespace isobar::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kExtensions[] = {".js", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".jsx"};

bool IsEntryPoint(const std::string& relative) {
  if (absl::StartsWith(relative, "_generated/") || absl::StrContains(relative, ' ')) return false;
  for (absl::string_view segment : absl::StrSplit(relative, '/')) {
    if (absl::StartsWith(segment, ".")) return false;
  }
  const std::string name = fs::path(relative).filename().string();
  if (std::count(name.begin(), name.end(), '.') != 1) return false;
  return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                     [&](const char* extension) { return absl::EndsWith(name, extension); });
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

static std::string WithoutTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

absl::StatusOr<std::vector<std::string>> ConvexEntryPoints(const std::string& convex_dir_in) {
  const std::string convex_dir = WithoutTrailingSlash(convex_dir_in);
  std::error_code error;
  if (!fs::is_directory(convex_dir, error)) return absl::NotFoundError(absl::StrCat(convex_dir, " is not a directory"));
  std::vector<std::string> entries;
  for (fs::recursive_directory_iterator it(convex_dir, error), end; it != end && !error; it.increment(error)) {
    if (!it->is_regular_file()) continue;
    // Lexically: runfiles and many checkouts are symlinks, which fs::relative would resolve.
    const std::string relative = it->path().lexically_relative(convex_dir).string();
    if (IsEntryPoint(relative)) entries.push_back(relative);
  }
  if (error) return absl::InternalError(absl::StrCat("reading ", convex_dir, ": ", error.message()));
  std::sort(entries.begin(), entries.end());
  if (entries.empty()) return absl::InvalidArgumentError(absl::StrCat(convex_dir, " has no function modules"));
  return entries;
}

absl::StatusOr<std::vector<BundledModule>> BundleConvexDir(const std::string& convex_dir_in, const std::string& esbuild,
                                                           const std::string& node_path) {
  const std::string convex_dir = WithoutTrailingSlash(convex_dir_in);
  absl::StatusOr<std::vector<std::string>> entries = ConvexEntryPoints(convex_dir);
  if (!entries.ok()) return entries.status();
  char out_template[] = "/tmp/isobar-bundle-XXXXXX";
  if (mkdtemp(out_template) == nullptr) return absl::InternalError("cannot make a temporary directory");
  const std::string out = out_template;
  const std::string log = out + ".log";
  SpawnOptions options;
  options.argv = {esbuild};
  for (const std::string& entry : *entries) options.argv.push_back(absl::StrCat(convex_dir, "/", entry));
  for (const char* flag : {"--bundle", "--format=esm", "--platform=browser", "--target=esnext",
                           "--conditions=convex,module", "--splitting", "--chunk-names=_deps/[hash]",
                           "--minify-syntax", "--minify-identifiers", "--keep-names", "--sourcemap",
                           "--sources-content=false",
                           "--define:process.env.NODE_ENV=\"production\"", "--log-level=warning"}) {
    options.argv.push_back(flag);
  }
  options.argv.push_back("--outdir=" + out);
  options.argv.push_back("--outbase=" + convex_dir);
  if (!node_path.empty()) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "NODE_PATH=")) env.emplace_back(*e);
    }
    env.push_back("NODE_PATH=" + node_path);
    options.env = env;
  }
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  options.new_session = false;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  if (log_fd >= 0) ::close(log_fd);
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(out, ignored);
    fs::remove(log, ignored);
  };
  if (!child.ok()) {
    cleanup();
    return absl::FailedPreconditionError(absl::StrCat("cannot run esbuild (", esbuild, "): ", child.status().message(),
                                                      "; deploy/bootstrap installs it"));
  }
  absl::StatusOr<std::optional<ExitStatus>> status = child->Wait(absl::InfiniteDuration());
  if (!status.ok() || !status->has_value() || !(*status)->Success()) {
    std::string message = ReadAll(log);
    cleanup();
    return absl::InvalidArgumentError(absl::StrCat("the convex/ folder does not build:\n", message));
  }
  std::vector<BundledModule> modules;
  std::error_code error;
  const fs::path project = fs::absolute(convex_dir, error).lexically_normal().parent_path();
  for (fs::recursive_directory_iterator it(out, error), end; it != end && !error; it.increment(error)) {
    if (!it->is_regular_file() || it->path().extension() != ".js") continue;
    const fs::path relative = it->path().lexically_relative(out);
    BundledModule module{relative.string(), ReadAll(it->path()), ""};
    // Its source map, with sources as Convex's CLI shows them (from out/ beside convex/). A map that
    // cannot be read is left out: stack frames of that module then stay as the bundle has them.
    const std::string map = ReadAll(it->path().string() + ".map");
    if (!map.empty()) {
      const std::string display_dir = (project / "out" / relative.parent_path()).lexically_normal().string();
      const std::string map_dir = it->path().parent_path().string();
      absl::StatusOr<std::string> rewritten = RewriteSources(
          map, [&](const std::string& source) { return DisplayPath(source, map_dir, display_dir); });
      if (rewritten.ok()) module.source_map = *std::move(rewritten);
    }
    modules.push_back(std::move(module));
  }
  cleanup();
  std::sort(modules.begin(), modules.end(), [](const BundledModule& a, const BundledModule& b) { return a.path < b.path; });
  return modules;
}

}  // namespace isobar::cli
