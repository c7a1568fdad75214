#include "base/flags.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n");
  for (const Flag& flag : flags_) {
    absl::StrAppend(&out, "  --", flag.name, flag.kind == Kind::kBool ? "" : "=VALUE", "\n      ", flag.help);
    if (!flag.default_text.empty()) absl::StrAppend(&out, " (default: ", flag.default_text, ")");
    out += "\n";
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> FlagSet::Parse(int argc, char** argv) const {
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional.push_back(argv[i]);
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
      bool v = !negated;
      if (has_value && !absl::SimpleAtob(value, &v)) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes true or false, not '", value, "'"));
      }
      *static_cast<bool*>(flag->target) = v;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    if (flag->kind == Kind::kInt) {
      if (!absl::SimpleAtoi(value, static_cast<int*>(flag->target))) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " takes a whole number, not '", value, "'"));
      }
    } else {
      *static_cast<std::string*>(flag->target) = value;
    }
  }
  return positional;
}

}  // namespace isobar
