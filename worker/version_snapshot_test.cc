// Per-version startup snapshots (version_snapshot.h) on real V8, through the evaluator: when a
// version gets one, that every call's context is a pristine copy (nothing one call does reaches the
// next), and that top-level code which depends on its invocation keeps the per-call ES modules.
//
// Each version here is the ES module "m.js" and the same code as the classic script, differing only in
// VIA ("esm" or "snapshot"), so that a result says which path served it.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/evaluator.h"
#include "worker/module_hash.h"
#include "worker/version_snapshot.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::FunctionCall;
using isobar::worker::v1::Invoke;
using isobar::worker::v1::Module;
using ::testing::HasSubstr;

// `definitions` define `fn` (a Convex-shaped export); `top_level` runs first, at import.
std::vector<Module> Version(const std::string& definitions, const std::string& top_level = "",
                            const std::string& classic_table = "{'m.js': {fn}}") {
  return {ModuleFromSource("m.js", absl::StrCat("const VIA = 'esm';\n", top_level, "\n", definitions, "\nexport { fn };\n")),
          ModuleFromSource(kClassicBundlePath,
                           absl::StrCat("(() => {\nconst VIA = 'snapshot';\n", top_level, "\n", definitions, "\nglobalThis.",
                                        kClassicModulesGlobal, " = ", classic_table, ";\n})();\n"))};
}

// fn as a query (or another kind) whose handler is `body`, an async function.
std::string Fn(const std::string& body, const std::string& flag = "isQuery", const std::string& method = "invokeQuery") {
  return absl::StrCat("const fn = { ", flag, ": true, isPublic: true, ", method,
                      ": async (...a) => JSON.stringify(await (", body, ")(...a)) };");
}

class EchoHost : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view, absl::string_view args) override {
    return std::string(args);
  }
};

class VersionSnapshotTest : public ::testing::Test {
 protected:
  Invoke Call(const std::vector<Module>& modules, Invoke::ContextPolicy policy = Invoke::FRESH,
              FunctionCall::Kind kind = FunctionCall::QUERY, uint64_t seed = 7) {
    Invoke invoke;
    invoke.set_invocation_id(++next_id_);
    invoke.set_deployment("d");
    invoke.set_context_policy(policy);
    invoke.set_cpu_budget_ms(1000);
    invoke.set_seed(seed);
    invoke.set_unix_time_ms(1.7e12 + 5);
    FunctionCall* call = invoke.mutable_function();
    call->set_kind(kind);
    call->set_module_path("m.js");
    call->set_export_name("fn");
    call->set_args_json("[{}]");
    if (kind == FunctionCall::ACTION) call->set_request_id("r");
    for (const Module& module : modules) *call->add_modules() = module;
    return invoke;
  }
  std::string Run(Evaluator& evaluator, const std::vector<Module>& modules, Invoke::ContextPolicy policy = Invoke::FRESH,
                  FunctionCall::Kind kind = FunctionCall::QUERY, uint64_t seed = 7) {
    InvocationResult result = evaluator.Run(Call(modules, policy, kind, seed));
    return result.result_json.ok() ? *result.result_json : absl::StrCat("error: ", result.result_json.status().message());
  }

  static EvaluatorLimits WithSnapshots() {
    EvaluatorLimits limits;
    limits.version_snapshots = true;  // off by default (version_snapshot.h, Known)
    return limits;
  }

  EchoHost host_;
  Watchdog watchdog_;
  EvaluatorLimits limits_ = WithSnapshots();
  uint64_t next_id_ = 0;
};

// Module state, globals, builtins' prototypes and the runtime's own objects, as one call leaves them.
const char kPolluter[] = R"(async () => {
  n++;
  const saw = [globalThis.leak, [].polluted, JSON.hacked, ({}).evil, typeof Convex.extra, Math.max(1, 2)];
  globalThis.leak = 1;
  Array.prototype.polluted = 1;
  JSON.hacked = 1;
  Object.prototype.evil = 1;
  try { Convex.extra = 1; } catch {}
  Math.max = () => 99;
  return { via: VIA, n, saw };
})";

TEST_F(VersionSnapshotTest, EveryCallGetsAPristineCopyOfTheSnapshot) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(absl::StrCat("let n = 0;\n", Fn(kPolluter)));
  const std::string pristine = R"(,"n":1,"saw":[null,null,null,null,"undefined",2]})";
  // The first call waits for idle time; the second finds the version still waiting and makes it.
  EXPECT_EQ(Run(evaluator, version), absl::StrCat(R"({"via":"esm")", pristine));
  EXPECT_EQ(evaluator.snapshot_stats().made, 0u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Run(evaluator, version), absl::StrCat(R"({"via":"snapshot")", pristine)) << "call " << i;
    if (i == 2) evaluator.Prepare();  // a context copied ahead is as pristine
  }
  const SnapshotStats& stats = evaluator.snapshot_stats();
  EXPECT_EQ(stats.made, 1u);
  EXPECT_EQ(stats.refused, 0u);
  EXPECT_EQ(stats.cached, 1u);
  EXPECT_GT(stats.bytes, 100u << 10);
  EXPECT_LT(stats.bytes, 8u << 20);
}

TEST_F(VersionSnapshotTest, IdleTimeMakesTheSnapshotAfterTheFirstCall) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(Fn("async () => VIA"));
  EXPECT_EQ(Run(evaluator, version), R"("esm")");
  EXPECT_TRUE(evaluator.HasIdleWork());
  evaluator.Prepare();
  EXPECT_EQ(evaluator.snapshot_stats().made, 1u);
  EXPECT_EQ(Run(evaluator, version), R"("snapshot")");
}

TEST_F(VersionSnapshotTest, WarmContextsStartFromTheSnapshotAndAreKept) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(absl::StrCat("let n = 0;\n", Fn("async () => [VIA, ++n]")));
  Run(evaluator, version);
  evaluator.Prepare();
  EXPECT_EQ(Run(evaluator, version, Invoke::WARM), R"(["snapshot",1])");
  EXPECT_EQ(Run(evaluator, version, Invoke::WARM), R"(["snapshot",2])");
  EXPECT_EQ(Run(evaluator, version, Invoke::FRESH), R"(["snapshot",1])");
}

TEST_F(VersionSnapshotTest, DeterminismIsTheInvocationsAsWithModules) {
  const std::string body = "async () => [Math.random(), Date.now(), crypto.getRandomValues(new Uint8Array(2))[1]]";
  const std::vector<Module> version = Version(Fn(body));
  EvaluatorLimits no_snapshots = limits_;
  no_snapshots.version_snapshots = false;
  Evaluator with(host_, watchdog_, {}, limits_);
  Evaluator without(host_, watchdog_, {}, no_snapshots);
  Run(with, version);
  with.Prepare();
  for (uint64_t seed : {1, 2, 3}) {
    const std::string modules = Run(without, version, Invoke::FRESH, FunctionCall::QUERY, seed);
    EXPECT_THAT(modules, HasSubstr(",1700000000005,"));
    EXPECT_EQ(Run(with, version, Invoke::FRESH, FunctionCall::QUERY, seed), modules) << "seed " << seed;
  }
  EXPECT_EQ(with.snapshot_stats().made, 1u);
  // An action's randomness is real, from the same snapshot.
  const std::vector<Module> action = Version(Fn("async () => Math.random()", "isAction", "invokeAction"));
  Run(with, action, Invoke::FRESH, FunctionCall::ACTION);
  with.Prepare();
  EXPECT_NE(Run(with, action, Invoke::FRESH, FunctionCall::ACTION), Run(with, action, Invoke::FRESH, FunctionCall::ACTION));
  EXPECT_EQ(with.snapshot_stats().made, 2u);
}

TEST_F(VersionSnapshotTest, TopLevelCodeThatDependsOnItsCallKeepsTheModules) {
  struct Case {
    const char* top_level;
    const char* result;  // of the call, on the modules' path
  };
  const Case cases[] = {
      {"const t = Date.now();", R"("esm")"},
      {"const r = Math.random();", R"("esm")"},
      {"crypto.getRandomValues(new Uint8Array(4));", R"("esm")"},
      {"console.log('imported');", R"("esm")"},
      {"const secret = process.env.SECRET;", R"("esm")"},
      {"globalThis.helper = 1;", R"("esm")"},
      {"delete globalThis.URL;", R"("esm")"},
      {"Promise.reject(new Error('late'));", "error: Uncaught Error: late"},
      {"Convex.asyncSyscall('1.0/get', '{}');", "error: Uncaught Error: Can't use database at import time"},
      {"throw new Error('broken at import');", "error: Uncaught Error: broken at import"},
      {"for (;;) {}", "error: "},
      {"let big; try { big = new ArrayBuffer(2 ** 31); } catch {}", R"("esm")"},
      // (Kept on Math: what nothing refers to is gone before the snapshot.)
      {"Math.table = new Uint8Array(1024);", R"("esm")"},  // a copy would allocate it again
      {"const limits = {}; limits.max = 2 ** 40; Math.limits = limits;", R"("esm")"},
      {"Math.half = 0.5;", R"("esm")"},
      {"Math.many = Array.from({length: 1500000}, (_, i) => ({i}));", R"("esm")"},  // too big to check
  };
  for (const Case& c : cases) {
    Evaluator evaluator(host_, watchdog_, {}, limits_);
    const std::vector<Module> version = Version(Fn("async () => VIA"), c.top_level);
    for (int i = 0; i < 2; ++i) EXPECT_THAT(Run(evaluator, version), HasSubstr(c.result)) << c.top_level;
    EXPECT_EQ(evaluator.snapshot_stats().made, 0u) << c.top_level;
    EXPECT_EQ(evaluator.snapshot_stats().refused, 1u) << c.top_level;
  }
}

TEST_F(VersionSnapshotTest, AScriptThatDoesNotHoldExactlyTheVersionsModulesIsNotUsed) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  std::vector<Module> version = Version(Fn("async () => VIA"));
  version.push_back(ModuleFromSource("other.js", "export const x = 1;"));  // added by hand, not in the script
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run(evaluator, version), R"("esm")");
  // The script holds another name than the version's module.
  Evaluator renamed(host_, watchdog_, {}, limits_);
  const std::vector<Module> misnamed = Version(Fn("async () => VIA"), "", "{'n.js': {fn}}");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run(renamed, misnamed), R"("esm")");
  // A script that sets no modules at all cannot have a snapshot.
  Evaluator none(host_, watchdog_, {}, limits_);
  const std::vector<Module> empty = Version(Fn("async () => VIA"), "", "undefined");
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Run(none, empty), R"("esm")");
  EXPECT_EQ(none.snapshot_stats().refused, 1u);
}

TEST_F(VersionSnapshotTest, ASnapshotIsolateServesOtherVersionsOfItsDeployment) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(Fn("async () => VIA"));
  Run(evaluator, version);
  EXPECT_EQ(Run(evaluator, version), R"("snapshot")");
  const std::vector<Module> plain = {ModuleFromSource("m.js", absl::StrCat("const VIA = 'plain';\n", Fn("async () => VIA"),
                                                                          "\nexport { fn };\n"))};
  EXPECT_EQ(Run(evaluator, plain), R"("plain")");
  EXPECT_EQ(Run(evaluator, version), R"("snapshot")");
  // A script whose bytes do not match their SHA-256 is refused, and the call reports the modules'.
  std::vector<Module> tampered = Version(Fn("async () => VIA"), "const other = 1;");
  tampered[1].set_source(tampered[1].source() + " ");
  Run(evaluator, tampered);
  EXPECT_EQ(Run(evaluator, tampered), R"("esm")");
}

// Adversarial review findings (issue 20's note): what a copy of the snapshot must still guarantee.
// V8 10.2 keeps a number field's value in a box it writes in place, and a snapshot puts every box in
// its part shared by all copies: module state holding fractional (or large) numbers in objects keeps
// the modules' path. Numbers in variables and in arrays are the copy's own.
TEST_F(VersionSnapshotTest, ReviewNumbersInModuleStateStartOverInEveryCopy) {
  Evaluator boxed(host_, watchdog_, {}, limits_);
  const std::vector<Module> fields =
      Version(absl::StrCat("const s = {x: 0.5};\n", Fn("async () => { s.x += 1; return [VIA, s.x]; }")));
  Run(boxed, fields);
  boxed.Prepare();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run(boxed, fields), R"(["esm",1.5])") << "call " << i;
  EXPECT_EQ(boxed.snapshot_stats().refused, 1u);
  // The same in private fields, static ones, class fields, a property named "" and an ArrayBuffer's
  // properties (which V8's heap snapshot does not show as properties).
  for (const char* state : {"const s = {'': 0.5}; const c = {bump: () => (s[''] += 1)};\n",
                            "const s = new ArrayBuffer(0); s.x = 0.5; const c = {bump: () => (s.x += 1)};\n",
                            "class S extends ArrayBuffer { constructor() { super(0); this.x = 0.5; } } const s = new S(); "
                            "const c = {bump: () => (s.x += 1)};\n","class C { #x = 0.5; bump() { return this.#x += 1; } } const c = new C();\n",
                            "class C { static #x = 0.5; static bump() { return C.#x += 1; } } const c = C;\n",
                            "class C { static x = 0.5; static bump() { return C.x += 1; } } const c = C;\n"}) {
    Evaluator hidden(host_, watchdog_, {}, limits_);
    const std::vector<Module> version = Version(absl::StrCat(state, Fn("async () => [VIA, c.bump()]")));
    Run(hidden, version);
    hidden.Prepare();
    for (int i = 0; i < 3; ++i) EXPECT_THAT(Run(hidden, version), HasSubstr(",1.5]")) << state << " call " << i;
  }

  Evaluator own(host_, watchdog_, {}, limits_);
  const std::vector<Module> unboxed = Version(absl::StrCat(
      "let d = 0.25; const list = [0.5, 2.5]; const s = {n: 1, name: 'a'};\n",
      Fn("async () => { d += 1; list[0] += 1; s.n += 1; s.name += 'b'; return [VIA, d, list, s]; }")));
  Run(own, unboxed);
  own.Prepare();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Run(own, unboxed), R"(["snapshot",1.25,[1.5,2.5],{"n":2,"name":"ab"}])") << "call " << i;
  }
}

TEST_F(VersionSnapshotTest, ACopysRealmIsTheModulesPathsRealm) {
  const std::string probe =
      "async () => [typeof SharedArrayBuffer, typeof Atomics, typeof WebAssembly, Error.stackTraceLimit, "
      "new Error('x').stack.split('\\n').length > 1, Object.getOwnPropertyNames(globalThis).length]";
  EvaluatorLimits no_snapshots = limits_;
  no_snapshots.version_snapshots = false;
  Evaluator with(host_, watchdog_, {}, limits_);
  Evaluator without(host_, watchdog_, {}, no_snapshots);
  const std::vector<Module> version = Version(Fn(absl::StrCat("async () => [VIA, await (", probe, ")()]")));
  Run(with, version);
  with.Prepare();
  const std::string modules = Run(without, version);
  EXPECT_THAT(modules, HasSubstr(R"(["esm",["function","object","undefined",10,true,)"));
  EXPECT_EQ(absl::StrCat(R"(["snapshot")", modules.substr(6)), Run(with, version));
}

// V8 adds Error.stackTraceLimit, Object.hasOwn, .at, .findLast* and @@unscopables entries to every
// copy, and aborts the process if it cannot: a version whose import freezes those builtins, defines
// those properties or replaces @@unscopables keeps its modules (and the worker lives).
TEST_F(VersionSnapshotTest, ReviewBuiltinsChangedAtImportKeepTheModules) {
  const char* kTable = "{'m.js': {fn}}";
  const std::pair<const char*, const char*> cases[] = {
      {"Object.freeze(Error);", kTable},
      {"Object.preventExtensions(Object);", kTable},
      {"Object.freeze(Array.prototype);", kTable},
      {"Object.freeze(String.prototype);", kTable},
      {"Object.freeze(Object.getPrototypeOf(Uint8Array.prototype));", kTable},
      {"Object.freeze(Array.prototype[Symbol.unscopables]);", kTable},
      {"delete Array.prototype[Symbol.unscopables];", kTable},
      {"Object.defineProperty(Array.prototype, Symbol.unscopables, {get() { throw new Error('x'); }, configurable: true});",
       kTable},
      {"Object.defineProperty(Array.prototype, Symbol.unscopables, {value: new Proxy({}, {}), configurable: true});",
       kTable},
      {"Error.stackTraceLimit = 50;", kTable},
      {"Object.hasOwn = Object.hasOwn || ((o, k) => Object.prototype.hasOwnProperty.call(o, k));", kTable},
      {"if (!Array.prototype.at) Object.defineProperty(Array.prototype, 'at', {value() {}, writable: true, configurable: true});",
       kTable},
      {"", "(() => { const t = {'m.js': {fn}}; globalThis.__isobarModules = t; Object.preventExtensions(globalThis); "
           "return t; })()"},
      {"function Asm(stdlib) { 'use asm'; function f() { return 1; } return { f: f }; } const asm = Asm(globalThis);", kTable},
  };
  for (const auto& [top_level, table] : cases) {
    Evaluator evaluator(host_, watchdog_, {}, limits_);
    const std::vector<Module> version = Version(Fn("async () => VIA"), top_level, table);
    EXPECT_EQ(Run(evaluator, version), R"("esm")") << top_level << table;
    evaluator.Prepare();
    EXPECT_EQ(Run(evaluator, version), R"("esm")") << top_level << table;
    EXPECT_EQ(evaluator.snapshot_stats().made, 0u) << top_level << table;
  }
}

// Code that runs after the script (a Math.random it replaced, called by the check for randomness) is
// checked as the script is.
TEST_F(VersionSnapshotTest, ReviewCodeRunAfterTheImportIsCheckedToo) {
  for (const char* top_level :
       {"let seen; const random = Math.random; Math.random = function () { if (seen === undefined) seen = Date.now(); return random(); };",
        "let seen; const random = Math.random; Math.random = function () { "
        "try { seen = typeof process.env.SECRET; } catch { seen = 'tried'; } return random(); };",
        "let seen; const random = Math.random; Math.random = function () { seen = 1; console.log('x'); return random(); };"}) {
    Evaluator evaluator(host_, watchdog_, {}, limits_);
    const std::vector<Module> version = Version(Fn("async () => [VIA, seen === undefined]"), top_level);
    Run(evaluator, version);
    evaluator.Prepare();
    EXPECT_EQ(evaluator.snapshot_stats().made, 0u) << top_level;
    EXPECT_EQ(evaluator.snapshot_stats().refused, 1u) << top_level;
  }
}

// Code can tell the trial's isolate from the snapshot's (its stack depth, say) and keep in the snapshot
// what the trial would have refused: the snapshot's isolate checks what its modules keep itself.
TEST_F(VersionSnapshotTest, ReviewStackDepthCannotSteerTheSnapshotsIsolate) {
  for (const char* pick : {"depth % 2", "!(depth % 2)", "depth % 3 === 0", "depth % 3 === 1", "depth % 3 === 2"}) {
    for (const char* kept : {"{x: 0.5}", "{x: 1, big: new Uint8Array(12 << 20)}"}) {
      Evaluator evaluator(host_, watchdog_, {}, limits_);
      const std::vector<Module> version = Version(absl::StrCat(
          "let depth = 0; const dive = () => { depth++; dive(); }; try { dive(); } catch {}\n", "const s = (", pick,
          ") ? {x: 1} : ", kept, ";\n", Fn("async () => { s.x += 1; return s.x; }")));
      Run(evaluator, version);
      evaluator.Prepare();
      // Fresh every call, whichever object the import picked (2 or 1.5; 2.5 and up would be a leak).
      for (int i = 0; i < 3; ++i) {
        EXPECT_THAT(Run(evaluator, version), ::testing::AnyOf("2", "1.5")) << pick << " " << kept << " call " << i;
      }
    }
  }
}

// Copy-on-write array literals are shared by copies until written, and every write copies first.
TEST_F(VersionSnapshotTest, ReviewCopyOnWriteLiteralsStartOverInEveryCopy) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(
      absl::StrCat("const list = [1, 2, 3], words = ['a', 'b'], nested = {k: [4, 5]};\n",
                   Fn("async () => { list[0] = 9; list.push(4); words.reverse(); nested.k.length = 1; "
                      "return [VIA, list, words, nested]; }")));
  Run(evaluator, version);
  evaluator.Prepare();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Run(evaluator, version), R"(["snapshot",[9,2,3,4],["b","a"],{"k":[4]}])") << "call " << i;
  }
}

TEST_F(VersionSnapshotTest, ReviewWebAssemblyStaysOffInCopies) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(Fn("async () => [VIA, typeof WebAssembly]"));
  Run(evaluator, version);
  evaluator.Prepare();
  EXPECT_EQ(Run(evaluator, version), R"(["snapshot","undefined"])");
}

// Math.random, Date and the rest that differ between queries and actions are stable functions that ask
// the current call (determinism.js): taken at module scope, they are not the snapshot's fixed ones.
TEST_F(VersionSnapshotTest, ReviewCapturedRandomnessAndTimeAreTheCallsInActions) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(
      absl::StrCat("const rnd = Math.random; const now = Date.now; const D = Date; const later = setTimeout;\n",
                   Fn("async () => [VIA, rnd(), now() > 1.7e12 + 1e9, new D().getTime() > 1.7e12 + 1e9, "
                      "later(() => {}, 0) > 0, new D(5).getTime()]",
                      "isAction", "invokeAction")));
  Run(evaluator, version, Invoke::FRESH, FunctionCall::ACTION);
  evaluator.Prepare();
  const std::string a = Run(evaluator, version, Invoke::FRESH, FunctionCall::ACTION);
  const std::string b = Run(evaluator, version, Invoke::FRESH, FunctionCall::ACTION);
  EXPECT_NE(a, b);
  EXPECT_THAT(a, HasSubstr(",true,true,true,5]"));
  EXPECT_THAT(a, HasSubstr("[\"snapshot\","));
}

TEST_F(VersionSnapshotTest, ReviewAFrozenGlobalObjectDoesNotTakeTheWorkerDown) {
  Evaluator evaluator(host_, watchdog_, {}, limits_);
  const std::vector<Module> version = Version(Fn("async () => VIA"), "Object.preventExtensions(globalThis);");
  for (int i = 0; i < 3; ++i) EXPECT_THAT(Run(evaluator, version), HasSubstr("\""));
  evaluator.Prepare();
  EXPECT_THAT(Run(evaluator, version), HasSubstr("\""));
}

}  // namespace
}  // namespace isobar::worker
