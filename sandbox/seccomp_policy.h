// A seccomp policy as plain data: what each system call gets. It can be inspected and unit-tested
// without loading it into the kernel (seccomp_install.h does that).
//
//   ASSIGN_OR_RETURN(SeccompPolicy policy, PolicyBuilder()
//       .Allow({SYS_read, SYS_write})
//       .AllowIf(SYS_clone, {ArgMaskedEq(0, kThreadFlags, kThreadFlags)})
//       .Errno(SYS_openat, EACCES)
//       .TryBuild());
//   policy.Decide(SYS_execve, args) == Decision{Action::kKillProcess}
//
// Semantics (the same as the kernel filter libseccomp generates):
// - a system call with no rule gets the default action, which is always KILL_PROCESS: the filter
//   cannot fail open;
// - a rule with conditions applies when all its conditions hold; a call whose conditions all fail
//   falls to the default action;
// - several rules for one system call must share one action (they are alternatives);
// - a rule compares each argument at most once (libseccomp's rule; combine masks instead).
// - architecture: only x86_64 calls pass; i386 (int 0x80) and x32 (nr | 0x40000000) calls are killed.
#ifndef ISOBAR_SANDBOX_SECCOMP_POLICY_H_
#define ISOBAR_SANDBOX_SECCOMP_POLICY_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace isobar::sandbox {

enum class Action {
  kAllow,
  kErrno,        // fail with an errno; the process goes on
  kKillProcess,  // SIGSYS for the whole process
};

// One condition on a system-call argument: (args[arg] & mask) == value.
struct ArgCondition {
  int arg = 0;  // 0..5
  uint64_t mask = ~uint64_t{0};
  uint64_t value = 0;
};

inline ArgCondition ArgEq(int arg, uint64_t value) { return {arg, ~uint64_t{0}, value}; }
inline ArgCondition ArgMaskedEq(int arg, uint64_t mask, uint64_t value) { return {arg, mask, value}; }

struct Rule {
  Action action = Action::kAllow;
  int errno_value = 0;                  // for kErrno
  std::vector<ArgCondition> conditions; // all must hold; empty: always
};

struct Decision {
  Action action;
  int errno_value = 0;
  bool operator==(const Decision& other) const {
    return action == other.action && errno_value == other.errno_value;
  }
};

// A token that lets a policy allow PROT_EXEC mappings (see jit_capability.h for how to get one).
class JitCapability final {
 private:
  JitCapability() = default;
  friend JitCapability GrantJitCapability();
};

class SeccompPolicy final {
 public:
  // What the filter does with system call `nr` and these arguments.
  Decision Decide(int nr, const std::array<uint64_t, 6>& args = {}) const;

  // Every system call that has a rule, with its rules.
  const std::map<int, std::vector<Rule>>& rules() const { return rules_; }

 private:
  friend class PolicyBuilder;
  SeccompPolicy() = default;
  std::map<int, std::vector<Rule>> rules_;
};

class PolicyBuilder final {
 public:
  PolicyBuilder& Allow(std::initializer_list<int> syscalls);
  // Allowed when all the conditions hold; call again for an alternative set.
  PolicyBuilder& AllowIf(int nr, std::vector<ArgCondition> conditions);
  // Fails with `errno_value` instead of running.
  PolicyBuilder& Errno(std::initializer_list<int> syscalls, int errno_value);

  // INVALID_ARGUMENT for a rule that contradicts another, a negative system-call number or a bad
  // argument index.
  absl::StatusOr<SeccompPolicy> TryBuild() const;

 private:
  void Add(int nr, Rule rule);
  std::vector<std::pair<int, Rule>> pending_;
};

}  // namespace isobar::sandbox

#endif  // ISOBAR_SANDBOX_SECCOMP_POLICY_H_
