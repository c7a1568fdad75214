#include "base/flags.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"

namespace isobar {

void FlagSet::String(const char* name, std::string* target, const char* help) {
  flags_.push_back({name, Kind::kString, target, help, *target});
}

void FlagSet::Int(const char* name, int* target, const char* help) {
  flags_.push_back({name, Kind::kInt, target, help, absl::StrCat(*target)});
}

void FlagSet::Bool(const char* name, bool* target, const char* help) {
  flags_.push_back({name, Kind::kBool, target, help, *target ? "true" : "false"});
}

const FlagSet::Flag* FlagSet::Find(const std::string& name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::string FlagSet::EnvironmentName(const std::string& name) const {
  if (env_prefix_.empty()) return "";
  std::string out = env_prefix_;
  for (char c : name) out.push_back(c == '-' ? '_' : absl::ascii_toupper(static_cast<unsigned char>(c)));
  return out;
}

namespace {

// `text` as lines of at most `width` characters (a longer word keeps its own line), each indented.
std::string Wrapped(absl::string_view text, size_t width, absl::string_view indent) {
  std::string out, line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, indent, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
  }
  if (!line.empty()) absl::StrAppend(&out, indent, line, "\n");
  return out;
}

}  // namespace

std::string FlagSet::Usage() const {
  constexpr size_t kWidth = 94;
  std::string out = absl::StrCat("usage: ", usage_, "\n");
  absl::StrAppend(&out, "  --flagfile=PATH\n",
                  Wrapped("more flags from a file, one per line as on the command line (--name=value); lines "
                          "starting with '#' are comments",
                          kWidth, "      "));
  for (const Flag& flag : flags_) {
    std::string help = flag.help;
    // The value the flag starts with, unless its help already says what the default means (a 0
    // that stands for a computed value, say).
    if (!flag.default_text.empty() && !absl::StrContains(help, "default")) {
      absl::StrAppend(&help, " (default: ", flag.default_text, ")");
    }
    absl::StrAppend(&out, "  --", flag.name, flag.kind == Kind::kBool ? "" : "=VALUE", "\n", Wrapped(help, kWidth, "      "));
    if (!env_prefix_.empty()) absl::StrAppend(&out, "      env ", EnvironmentName(flag.name), "\n");
  }
  return out;
}

absl::Status FlagSet::Set(const Flag& flag, const std::string& value, const std::string& source) const {
  switch (flag.kind) {
    case Kind::kBool:
      if (!absl::SimpleAtob(value, static_cast<bool*>(flag.target))) {
        return absl::InvalidArgumentError(absl::StrCat(source, " takes true or false, not '", value, "'"));
      }
      return absl::OkStatus();
    case Kind::kInt:
      if (!absl::SimpleAtoi(value, static_cast<int*>(flag.target))) {
        return absl::InvalidArgumentError(absl::StrCat(source, " takes a whole number, not '", value, "'"));
      }
      return absl::OkStatus();
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = value;
      return absl::OkStatus();
  }
  return absl::InternalError("unknown flag kind");
}

absl::StatusOr<std::vector<std::string>> FlagSet::Expand(const std::vector<std::string>& args, int depth) const {
  constexpr int kMaxDepth = 8;
  std::vector<std::string> out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.insert(out.end(), args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
      break;
    }
    std::string path;
    if (absl::StartsWith(arg, "--flagfile=")) {
      path = arg.substr(strlen("--flagfile="));
    } else if (arg == "--flagfile") {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError("--flagfile needs a value");
      path = args[++i];
    } else {
      out.push_back(arg);
      continue;
    }
    if (depth >= kMaxDepth) {
      return absl::InvalidArgumentError(absl::StrCat("--flagfile=", path, ": flag files nest more than ", kMaxDepth, " deep"));
    }
    std::ifstream file(path);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("--flagfile=", path, ": cannot read it"));
    std::vector<std::string> lines;
    int number = 0;
    for (std::string line; std::getline(file, line);) {
      ++number;
      absl::string_view text = absl::StripTrailingAsciiWhitespace(absl::StripLeadingAsciiWhitespace(line));
      if (text.empty() || text[0] == '#') continue;
      if (!absl::StartsWith(text, "--")) {
        // (The line itself is not repeated: it may hold a secret.)
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", number, ": not a flag; a flag file holds one per line, as --name=value"));
      }
      lines.emplace_back(text);
    }
    ASSIGN_OR_RETURN(std::vector<std::string> expanded, Expand(lines, depth + 1));
    out.insert(out.end(), expanded.begin(), expanded.end());
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(int argc, char** argv) const {
  // --help answers whatever else is wrong (a bad variable in the environment, say).
  for (int i = 1; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) return absl::NotFoundError(Usage());
  }
  if (!env_prefix_.empty()) {
    for (const Flag& flag : flags_) {
      const std::string variable = EnvironmentName(flag.name);
      if (const char* value = std::getenv(variable.c_str()); value != nullptr) {
        RETURN_IF_ERROR(Set(flag, value, variable));
      }
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> args, Expand(std::vector<std::string>(argv + std::min(argc, 1), argv + argc), 0));
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(Usage());
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Flag* flag = Find(name);
    bool negated = false;
    if (flag == nullptr && name.compare(0, 3, "no-") == 0) {
      flag = Find(name.substr(3));
      negated = flag != nullptr && flag->kind == Kind::kBool;
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "\n", Usage()));
    if (flag->kind == Kind::kBool) {
      if (!has_value) value = negated ? "false" : "true";
      RETURN_IF_ERROR(Set(*flag, value, "--" + name));
      if (negated && has_value) *static_cast<bool*>(flag->target) = !*static_cast<bool*>(flag->target);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = args[++i];
    }
    RETURN_IF_ERROR(Set(*flag, value, "--" + name));
  }
  return positional;
}

}  // namespace isobar
