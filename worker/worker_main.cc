#include "worker/worker_main.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/flags.h"
#include "base/log.h"
#include "sandbox/namespaces.h"
#include "sandbox/seccomp_install.h"
#include "sandbox/worker_policy.h"
#include "v8-initialization.h"
#include "worker/bindings.h"
#include "worker/build_id.h"
#include "worker/host_channel.h"
#include "worker/sandbox_install.h"
#include "worker/module_hash.h"
#include "worker/serve.h"
#include "worker/v8_runtime.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::WorkerMessage;

enum class SandboxMode { kKill, kReport, kOff };

struct WorkerFlags {
  int worker_id = -1;
  int channel_fd = 3;
  SandboxMode sandbox = SandboxMode::kKill;
  bool empty_root = false;       // in a new mount namespace: pivot into an empty root after start-up
  std::optional<std::pair<uid_t, gid_t>> drop_ids;  // then become this user
  int module_source_mb = 256;    // module sources kept by hash (worker/module_sources.h)
  bool make_snapshot = false;    // a snapshot maker: one MakeSnapshot, then exit (worker/serve.h)
};

absl::StatusOr<WorkerFlags> ParseFlags(int argc, char** argv) {
  WorkerFlags flags;
  std::string sandbox = "kill";
  std::string drop_ids;
  FlagSet set("worker --worker-id=N|--make-snapshot [--channel-fd=3] [--sandbox=kill|report|off] [--empty-root] [--drop-ids=UID:GID]");
  set.Int("worker-id", &flags.worker_id, "this worker's slot in the supervisor's pool");
  set.Int("channel-fd", &flags.channel_fd, "the socketpair end inherited from the supervisor");
  set.String("sandbox", &sandbox, "seccomp mode: kill, report (print the offending syscall) or off");
  set.Bool("empty-root", &flags.empty_root, "pivot into an empty root after start-up (needs a mount namespace)");
  set.String("drop-ids", &drop_ids, "become UID:GID after start-up");
  set.Int("module-source-mb", &flags.module_source_mb, "module sources kept so the supervisor need not resend them");
  set.Bool("make-snapshot", &flags.make_snapshot,
           "be a snapshot maker: make one code version's startup snapshot, send it, exit");
  absl::StatusOr<std::vector<std::string>> positional = set.Parse(argc, argv);
  if (!positional.ok()) return positional.status();
  if (!positional->empty()) return absl::InvalidArgumentError("unexpected arguments\n" + set.Usage());
  if (flags.worker_id < 0 && !flags.make_snapshot) return absl::InvalidArgumentError("--worker-id is required\n" + set.Usage());
  if (sandbox == "kill") {
    flags.sandbox = SandboxMode::kKill;
  } else if (sandbox == "report") {
    flags.sandbox = SandboxMode::kReport;
  } else if (sandbox == "off") {
    flags.sandbox = SandboxMode::kOff;
  } else {
    return absl::InvalidArgumentError("--sandbox must be kill, report or off");
  }
  if (!drop_ids.empty()) {
    std::pair<std::string, std::string> parts = absl::StrSplit(drop_ids, absl::MaxSplits(':', 1));
    uint32_t uid = 0, gid = 0;
    if (!absl::SimpleAtoi(parts.first, &uid) || !absl::SimpleAtoi(parts.second, &gid) || uid == 0 || gid == 0) {
      return absl::InvalidArgumentError("--drop-ids must be UID:GID, neither 0");
    }
    flags.drop_ids = std::make_pair(static_cast<uid_t>(uid), static_cast<gid_t>(gid));
  }
  return flags;
}

// Touches what V8 initialises lazily (regexp, JSON, Date and time zone, Intl, promises, errors with
// stack traces) before the filter goes in.
constexpr char kWarmUpScript[] = R"js(
  (async () => {
    const o = JSON.parse(JSON.stringify({a: [1, 2.5, "x"], d: new Date(0).toISOString()}));
    /(a+)+b/.test("aab");
    new Intl.NumberFormat("en-US").format(1234.5);
    new Date().toLocaleString();
    try { null.x; } catch (e) { String(e.stack); }
    crypto.getRandomValues(new Uint8Array(4));
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(new URL("https://a/b?c").href));
    console.log(structuredClone({m: new Map([[1, [2]]])}));
    await Promise.resolve(o);
    return o.a.length;
  })()
)js";

// Compiles, caches and evaluates a module twice (the second time from the code cache), the path every
// function call takes.
InvocationResult WarmUpModules(Evaluator& evaluator) {
  constexpr char kSource[] = "export const x = { isQuery: true, invokeQuery: async () => '3' };";
  v1::Invoke invoke;
  *invoke.mutable_analyze()->add_modules() = ModuleFromSource("warm_up.js", kSource);
  for (int i = 0; i < 2; ++i) {
    invoke.set_invocation_id(static_cast<uint64_t>(i));
    invoke.set_deployment(i == 0 ? "warm-up-1" : "warm-up-2");
    InvocationResult result = evaluator.Run(invoke);
    if (!result.result_json.ok()) return result;
  }
  InvocationResult done;
  done.result_json = "3";
  return done;
}

}  // namespace

absl::Status WarmUpWorker(Evaluator& evaluator) {
  WarmUpBindings();
  InvocationResult warm_up = evaluator.Eval(InvocationId(0), kWarmUpScript, absl::Seconds(10));
  if (warm_up.result_json.ok() && *warm_up.result_json == "3") warm_up = WarmUpModules(evaluator);
  if (!warm_up.result_json.ok()) return warm_up.result_json.status();
  if (*warm_up.result_json != "3") return absl::InternalError(absl::StrCat("warm-up returned ", *warm_up.result_json));
  return absl::OkStatus();
}

int WorkerMain(int argc, char** argv, std::vector<ContextExtension> extensions) {
  // Debian's Abseil tracks lock order on every Mutex operation; that is for tests, not production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::StatusOr<WorkerFlags> parsed = ParseFlags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "worker: %s\n", std::string(parsed.status().message()).c_str());
    return absl::IsNotFound(parsed.status()) ? 0 : 2;
  }
  const WorkerFlags& flags = *parsed;
  const std::string component =
      flags.make_snapshot ? std::string("snapshot maker") : absl::StrCat("worker ", flags.worker_id);
  // No core dumps (they would hold tenant data), and no ptrace by other processes of our user.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0);

  if (flags.make_snapshot) {
    // Background work: the serving workers come first for the CPU, and this process first for the
    // kernel's OOM killer.
    setpriority(PRIO_PROCESS, 0, 19);
    if (FILE* oom = std::fopen("/proc/self/oom_score_adj", "w")) {
      std::fputs("1000", oom);
      std::fclose(oom);
    }
  }
  std::unique_ptr<v8::Platform> platform = InitializeV8(argv[0]);
  absl::StatusOr<std::unique_ptr<HostChannel>> channel = HostChannel::Open(flags.channel_fd);
  if (!channel.ok()) {
    ISOBAR_LOG(kError, component) << channel.status();
    return 1;
  }
  Watchdog watchdog;
  EvaluatorLimits limits;
  Evaluator evaluator(**channel, watchdog, std::move(extensions), limits);
  absl::Status warm_up = WarmUpWorker(evaluator);
  if (!warm_up.ok()) {
    ISOBAR_LOG(kError, component) << "warm-up failed: " << warm_up;
    return 1;
  }

  // Everything is loaded: leave the file system, then our privileges, then (below) most system calls.
  if (flags.empty_root) {
    absl::Status entered = sandbox::EnterEmptyRoot();
    if (!entered.ok()) {
      ISOBAR_LOG(kError, component) << "cannot enter the empty root: " << entered;
      return 1;
    }
  }
  if (flags.drop_ids.has_value()) {
    absl::Status dropped = sandbox::DropIds(flags.drop_ids->first, flags.drop_ids->second);
    if (!dropped.ok()) {
      ISOBAR_LOG(kError, component) << "cannot drop privileges: " << dropped;
      return 1;
    }
  }
  const uid_t uid = getuid();  // for Hello (getuid is not allowed under the filter)
  const std::string build_id = LoadedBuildId();  // (every library is loaded by now)
  if (flags.sandbox != SandboxMode::kOff) {
    absl::Status installed = InstallWorkerSandbox(flags.sandbox == SandboxMode::kReport
                                                      ? sandbox::ViolationMode::kReport
                                                      : sandbox::ViolationMode::kKillProcess);
    if (!installed.ok()) {
      ISOBAR_LOG(kError, component) << "cannot install the sandbox: " << installed;
      return 1;
    }
  } else {
    ISOBAR_LOG(kWarning, component) << "running WITHOUT the seccomp sandbox (--sandbox=off)";
  }

  WorkerMessage hello;
  hello.mutable_hello()->set_pid(getpid());
  hello.mutable_hello()->set_v8_version(v8::V8::GetVersion());
  hello.mutable_hello()->set_sandboxed(flags.sandbox != SandboxMode::kOff);
  hello.mutable_hello()->set_empty_root(flags.empty_root);
  hello.mutable_hello()->set_uid(static_cast<uint32_t>(uid));
  hello.mutable_hello()->set_build_id(build_id);
  if (!(*channel)->Send(hello).ok()) _exit(1);
  if (flags.make_snapshot) {
    ServeSnapshotMaker(**channel, evaluator);
  } else {
    Serve(**channel, evaluator, static_cast<size_t>(std::max(0, flags.module_source_mb)) << 20);
  }
  // The supervisor closed the stream: leave without running destructors (see the header).
  _exit(0);
}

}  // namespace isobar::worker
