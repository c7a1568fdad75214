#include "cli/bundle.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/classic_bundle.h"
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

namespace {

// Runs esbuild with `args` (NODE_PATH=`node_path` when not empty): OK, or its output as the message of
// INVALID_ARGUMENT (the code does not build) or FAILED_PRECONDITION (esbuild cannot run).
absl::Status RunEsbuild(const std::string& esbuild, const std::vector<std::string>& args, const std::string& node_path) {
  char log_template[] = "/tmp/isobar-esbuild-XXXXXX";
  const int log_fd = mkstemp(log_template);
  if (log_fd < 0) return absl::InternalError("cannot make a temporary file");
  const std::string log = log_template;
  SpawnOptions options;
  options.argv = {esbuild};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  if (!node_path.empty()) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "NODE_PATH=")) env.emplace_back(*e);
    }
    env.push_back("NODE_PATH=" + node_path);
    options.env = env;
  }
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  options.new_session = false;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  ::close(log_fd);
  std::error_code ignored;
  if (!child.ok()) {
    fs::remove(log, ignored);
    return absl::FailedPreconditionError(absl::StrCat("cannot run esbuild (", esbuild, "): ", child.status().message(),
                                                      "; deploy/bootstrap installs it"));
  }
  absl::StatusOr<std::optional<ExitStatus>> status = child->Wait(absl::InfiniteDuration());
  if (!status.ok() || !status->has_value() || !(*status)->Success()) {
    std::string message = ReadAll(log);
    fs::remove(log, ignored);
    return absl::InvalidArgumentError(message);
  }
  fs::remove(log, ignored);
  return absl::OkStatus();
}

// `generated` (a .js file esbuild wrote, with its map beside it) as a module at `path`, its map's
// sources as Convex's CLI shows them: relative to `display_dir` (out/ beside convex/, or the chunk's
// folder in it). A map that cannot be read is left out: stack frames then stay as the bundle has them.
BundledModule ReadOutput(const fs::path& generated, std::string path, const fs::path& display_dir) {
  BundledModule module{std::move(path), ReadAll(generated), ""};
  const std::string map = ReadAll(generated.string() + ".map");
  if (!map.empty()) {
    const std::string map_dir = generated.parent_path().string();
    absl::StatusOr<std::string> rewritten = RewriteSources(
        map, [&](const std::string& source) { return DisplayPath(source, map_dir, display_dir.lexically_normal().string()); });
    if (rewritten.ok()) module.source_map = *std::move(rewritten);
  }
  return module;
}

// The entry modules of esbuild's output in `out` as one classic script that sets
// globalThis.__isobarModules = {path: exports}, for the worker's snapshot of the version
// (worker/version_snapshot.h). Made from the ES modules just written, so the two hold the same code.
// nullopt where esbuild cannot make one (top-level await): the worker then evaluates the ES modules.
std::optional<BundledModule> ClassicBundle(const fs::path& out, const fs::path& project,
                                           const std::vector<BundledModule>& modules, const std::string& esbuild) {
  char dir_template[] = "/tmp/isobar-classic-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return std::nullopt;
  const fs::path dir = dir_template;
  std::error_code error;
  std::string entry;
  std::string table;
  int i = 0;
  for (const BundledModule& module : modules) {
    if (absl::StartsWith(module.path, "_deps/")) continue;
    const std::string quoted = absl::StrCat("\"", absl::CEscape(module.path), "\"");
    absl::StrAppend(&entry, "import * as m", i, " from \"", absl::CEscape((out / module.path).string()), "\";\n");
    absl::StrAppend(&table, quoted, ": m", i, ", ");
    ++i;
  }
  absl::StrAppend(&entry, "globalThis.", kClassicModulesGlobal, " = {", table, "};\n");
  std::ofstream(dir / "entry.js", std::ios::binary) << entry;
  const fs::path generated = dir / "isobar-classic.js";
  std::optional<BundledModule> classic;
  if (RunEsbuild(esbuild,
                 {(dir / "entry.js").string(), "--bundle", "--format=iife", "--platform=browser", "--target=esnext",
                  "--minify-syntax", "--minify-identifiers", "--keep-names", "--sourcemap", "--sources-content=false",
                  // Strict, as the ES modules are (esbuild leaves an iife sloppy).
                  "--banner:js=\"use strict\";", "--log-level=error", "--outfile=" + generated.string()},
                 "")
          .ok()) {
    classic = ReadOutput(generated, kClassicBundlePath, project / "out");
  }
  fs::remove_all(dir, error);
  return classic;
}

}  // namespace

absl::StatusOr<std::vector<BundledModule>> BundleConvexDir(const std::string& convex_dir_in, const std::string& esbuild,
                                                           const std::string& node_path) {
  const std::string convex_dir = WithoutTrailingSlash(convex_dir_in);
  absl::StatusOr<std::vector<std::string>> entries = ConvexEntryPoints(convex_dir);
  if (!entries.ok()) return entries.status();
  char out_template[] = "/tmp/isobar-bundle-XXXXXX";
  if (mkdtemp(out_template) == nullptr) return absl::InternalError("cannot make a temporary directory");
  const std::string out = out_template;
  std::vector<std::string> args;
  for (const std::string& entry : *entries) args.push_back(absl::StrCat(convex_dir, "/", entry));
  for (const char* flag : {"--bundle", "--format=esm", "--platform=browser", "--target=esnext",
                           "--conditions=convex,module", "--splitting", "--chunk-names=_deps/[hash]",
                           "--minify-syntax", "--minify-identifiers", "--keep-names", "--sourcemap",
                           "--sources-content=false",
                           "--define:process.env.NODE_ENV=\"production\"", "--log-level=warning"}) {
    args.push_back(flag);
  }
  args.push_back("--outdir=" + out);
  args.push_back("--outbase=" + convex_dir);
  std::error_code error;
  absl::Status built = RunEsbuild(esbuild, args, node_path);
  if (!built.ok()) {
    fs::remove_all(out, error);
    if (absl::IsInvalidArgument(built)) {
      return absl::InvalidArgumentError(absl::StrCat("the convex/ folder does not build:\n", built.message()));
    }
    return built;
  }
  std::vector<BundledModule> modules;
  const fs::path project = fs::absolute(convex_dir, error).lexically_normal().parent_path();
  for (fs::recursive_directory_iterator it(out, error), end; it != end && !error; it.increment(error)) {
    if (!it->is_regular_file() || it->path().extension() != ".js") continue;
    const fs::path relative = it->path().lexically_relative(out);
    modules.push_back(ReadOutput(it->path(), relative.string(), project / "out" / relative.parent_path()));
  }
  std::sort(modules.begin(), modules.end(), [](const BundledModule& a, const BundledModule& b) { return a.path < b.path; });
  if (std::optional<BundledModule> classic = ClassicBundle(out, project, modules, esbuild)) {
    modules.push_back(*std::move(classic));
    std::sort(modules.begin(), modules.end(), [](const BundledModule& a, const BundledModule& b) { return a.path < b.path; });
  }
  fs::remove_all(out, error);
  return modules;
}

}  // namespace isobar::cli
