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

  // Returns the positional arguments (argv[0] excluded).
  absl::StatusOr<std::vector<std::string>> Parse(int argc, char** argv) const;
  std::string Usage() const;

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

  std::string usage_;
  std::vector<Flag> flags_;
};

}  // namespace isobar

#endif  // ISOBAR_BASE_FLAGS_H_
