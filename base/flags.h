// A small command-line flag parser for Isobar's programs, with dashed names as the README shows them.
//
//   std::string data_dir = "./isobar-data";
//   int workers = 0;
//   bool enable_eval = false;
//   FlagSet flags("supervisor [flags]");
//   flags.String("data-dir", &data_dir, "where the embedded PostgreSQL and keys live");
//   flags.Int("workers", &workers, "worker processes (0: one per core)");
//   flags.Bool("enable-eval", &enable_eval, "serve Admin.Eval (development only)");
//   ASSIGN_OR_RETURN(std::vector<std::string> positional, flags.Parse(argc, argv));
//
// Accepts --name=value, --name value, and --flag / --no-flag for booleans. "--" ends flags. An
// unknown flag or a bad value is INVALID_ARGUMENT; --help is NOT_FOUND with the usage text as message
// (print it and exit 0).
//
// --flagfile=PATH reads more flags from a file, one per line as on the command line ("--name=value";
// blank lines and lines starting with '#' skipped; a value is the rest of its line, spaces kept), in
// place: later flags override earlier ones, a file may name another (8 deep at most). With an
// environment prefix (SetEnvironmentPrefix("ISOBAR_")), each flag's variable (ISOBAR_DATA_DIR for
// --data-dir) sets it before the command line does: the way to pass a secret (--postgres-url with a
// password) without it showing in the process list. Precedence: command line and flag files, in
// order, then the environment, then the default.
#ifndef ISOBAR_BASE_FLAGS_H_
#define ISOBAR_BASE_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace isobar {

class FlagSet {
 public:
  explicit FlagSet(std::string usage) : usage_(std::move(usage)) {}

  void String(const char* name, std::string* target, const char* help);
  void Int(const char* name, int* target, const char* help);
  void Bool(const char* name, bool* target, const char* help);

  // Flags are also read from the environment, as <prefix><NAME> (see above).
  void SetEnvironmentPrefix(std::string prefix) { env_prefix_ = std::move(prefix); }

  // Returns the positional arguments (argv[0] excluded).
  absl::StatusOr<std::vector<std::string>> Parse(int argc, char** argv) const;
  std::string Usage() const;
  // The environment variable of flag `name` ("ISOBAR_DATA_DIR" for "data-dir"), "" without a prefix.
  std::string EnvironmentName(const std::string& name) const;

 private:
  enum class Kind { kString, kInt, kBool };
  struct Flag {
    std::string name;
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
  };
  const Flag* Find(const std::string& name) const;
  // Sets `flag` from `value` (`source` names where it came from, for errors).
  absl::Status Set(const Flag& flag, const std::string& value, const std::string& source) const;
  // argv (argv[0] excluded) with each --flagfile replaced by the file's flags.
  absl::StatusOr<std::vector<std::string>> Expand(const std::vector<std::string>& args, int depth) const;

  std::string usage_;
  std::string env_prefix_;
  std::vector<Flag> flags_;
};

}  // namespace isobar

#endif  // ISOBAR_BASE_FLAGS_H_
