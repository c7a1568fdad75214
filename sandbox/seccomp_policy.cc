#include "sandbox/seccomp_policy.h"

#include "absl/strings/str_cat.h"

namespace isobar::sandbox {

Decision SeccompPolicy::Decide(int nr, const std::array<uint64_t, 6>& args) const {
  auto it = rules_.find(nr);
  if (it != rules_.end()) {
    for (const Rule& rule : it->second) {
      bool match = true;
      for (const ArgCondition& c : rule.conditions) {
        if ((args[static_cast<size_t>(c.arg)] & c.mask) != c.value) {
          match = false;
          break;
        }
      }
      if (match) return Decision{rule.action, rule.errno_value};
    }
  }
  return Decision{Action::kKillProcess};
}

PolicyBuilder& PolicyBuilder::Allow(std::initializer_list<int> syscalls) {
  for (int nr : syscalls) Add(nr, Rule{Action::kAllow, 0, {}});
  return *this;
}

PolicyBuilder& PolicyBuilder::AllowIf(int nr, std::vector<ArgCondition> conditions) {
  Add(nr, Rule{Action::kAllow, 0, std::move(conditions)});
  return *this;
}

PolicyBuilder& PolicyBuilder::Errno(std::initializer_list<int> syscalls, int errno_value) {
  for (int nr : syscalls) Add(nr, Rule{Action::kErrno, errno_value, {}});
  return *this;
}

void PolicyBuilder::Add(int nr, Rule rule) { pending_.emplace_back(nr, std::move(rule)); }

absl::StatusOr<SeccompPolicy> PolicyBuilder::TryBuild() const {
  SeccompPolicy policy;
  for (const auto& [nr, rule] : pending_) {
    if (nr < 0) return absl::InvalidArgumentError(absl::StrCat("negative system call number ", nr));
    bool seen[6] = {};
    for (const ArgCondition& c : rule.conditions) {
      if (c.arg >= 0 && c.arg <= 5 && seen[c.arg]) {
        // libseccomp refuses a rule comparing one argument twice: say so here, not at install time.
        return absl::InvalidArgumentError(absl::StrCat(absl::StrCat("system call ", nr), ": argument ", c.arg,
                                                       " compared twice in one rule; combine the masks"));
      }
      if (c.arg >= 0 && c.arg <= 5) seen[c.arg] = true;
      if (c.arg < 0 || c.arg > 5) {
        return absl::InvalidArgumentError(absl::StrCat(absl::StrCat("system call ", nr), ": argument index ", c.arg));
      }
      if ((c.value & ~c.mask) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(absl::StrCat("system call ", nr), ": condition can never hold"));
      }
    }
    std::vector<Rule>& rules = policy.rules_[nr];
    for (const Rule& existing : rules) {
      if (existing.action != rule.action || existing.errno_value != rule.errno_value) {
        return absl::InvalidArgumentError(
            absl::StrCat(absl::StrCat("system call ", nr), " has rules with different actions"));
      }
      if (existing.conditions.empty() || rule.conditions.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(absl::StrCat("system call ", nr), " has an unconditional rule and another rule"));
      }
    }
    rules.push_back(rule);
  }
  return policy;
}

}  // namespace isobar::sandbox
