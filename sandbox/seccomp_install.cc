#include "sandbox/seccomp_install.h"

#include <errno.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "absl/strings/str_cat.h"

namespace isobar::sandbox {
namespace {

// Names for the report handler, resolved before the filter goes in (no allocation in the handler).
constexpr int kMaxSyscall = 512;
char g_names[kMaxSyscall][32];

void AppendNumber(char* buffer, size_t* length, long value) {
  char digits[24];
  int n = 0;
  if (value < 0) {
    buffer[(*length)++] = '-';
    value = -value;
  }
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (n > 0) buffer[(*length)++] = digits[--n];
}

void AppendText(char* buffer, size_t* length, const char* text) {
  while (*text != '\0' && *length < 200) buffer[(*length)++] = *text++;
}

void ReportViolation(int, siginfo_t* info, void*) {
  char line[256];
  size_t length = 0;
  AppendText(line, &length, "seccomp violation: syscall ");
  AppendNumber(line, &length, info->si_syscall);
  if (info->si_arch != AUDIT_ARCH_X86_64) {
    // Another ABI (int 0x80): the number means something else there; our names do not apply.
    AppendText(line, &length, " of another architecture (");
    AppendNumber(line, &length, static_cast<long>(info->si_arch));
    AppendText(line, &length, ")");
  } else if (info->si_syscall >= 0 && info->si_syscall < kMaxSyscall && g_names[info->si_syscall][0] != '\0') {
    AppendText(line, &length, " (");
    AppendText(line, &length, g_names[info->si_syscall]);
    AppendText(line, &length, ")");
  }
  line[length++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, length);
  (void)ignored;
  _exit(128 + SIGSYS);
}

absl::Status FromErrno(absl::string_view what, int rc) {
  return absl::InternalError(absl::StrCat("seccomp: ", what, ": ", strerror(-rc)));
}

}  // namespace

std::string SyscallName(int nr) {
  char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
  if (name == nullptr) return absl::StrCat("syscall_", nr);
  std::string out(name);
  free(name);
  return out;
}

absl::Status InstallSeccompPolicy(const SeccompPolicy& policy, ViolationMode mode) {
  const uint32_t default_action = mode == ViolationMode::kReport ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
  if (mode == ViolationMode::kReport) {
    for (int nr = 0; nr < kMaxSyscall; ++nr) {
      std::string name = SyscallName(nr);
      strncpy(g_names[nr], name.c_str(), sizeof(g_names[nr]) - 1);
    }
    struct sigaction action = {};
    action.sa_sigaction = ReportViolation;
    action.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &action, nullptr) != 0) {
      return absl::InternalError(absl::StrCat("sigaction(SIGSYS): ", strerror(errno)));
    }
  }
  scmp_filter_ctx ctx = seccomp_init(default_action);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  struct CtxReleaser {
    scmp_filter_ctx ctx;
    ~CtxReleaser() { seccomp_release(ctx); }
  } releaser{ctx};

  int rc;
  // Any architecture but x86_64 (i386 via int 0x80, and x32) is handled like an unlisted call.
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, default_action)) != 0) return FromErrno("BADARCH", rc);
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) return FromErrno("TSYNC", rc);
  if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) != 0) return FromErrno("NNP", rc);

  for (const auto& [nr, rules] : policy.rules()) {
    for (const Rule& rule : rules) {
      uint32_t action = SCMP_ACT_ALLOW;
      if (rule.action == Action::kErrno) action = SCMP_ACT_ERRNO(static_cast<uint16_t>(rule.errno_value));
      if (rule.action == Action::kKillProcess) action = SCMP_ACT_KILL_PROCESS;
      std::vector<scmp_arg_cmp> conditions;
      for (const ArgCondition& c : rule.conditions) {
        conditions.push_back(scmp_arg_cmp{static_cast<unsigned int>(c.arg), SCMP_CMP_MASKED_EQ, c.mask, c.value});
      }
      rc = seccomp_rule_add_exact_array(ctx, action, nr, static_cast<unsigned int>(conditions.size()),
                                        conditions.empty() ? nullptr : conditions.data());
      if (rc != 0) return FromErrno(absl::StrCat("rule for ", SyscallName(nr)), rc);
    }
  }
  if ((rc = seccomp_load(ctx)) != 0) return FromErrno("load", rc);
  return absl::OkStatus();
}

}  // namespace isobar::sandbox
