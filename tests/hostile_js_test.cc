// SECURITY.md §5, cases 1-17 (hostile JavaScript), on real V8 through the worker's Evaluator. Every
// case asserts the exact safe outcome, and that the same evaluator then serves the next invocation.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/evaluator.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using ::testing::HasSubstr;

// Answers every host call with its own arguments, and records what it was given.
class EchoHost : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view op, absl::string_view args) override {
    received.push_back(absl::StrCat(op, " ", args));
    return std::string(args);
  }
  std::vector<std::string> received;
};

struct HostileCase {
  const char* name;  // "<matrix number>_<what>"
  const char* source;
  absl::StatusCode code;
  const char* message;  // expected substring ("" for a successful result)
  const char* result;   // expected JSON when code is OK
  int budget_ms = 500;  // CPU time allowed
};

class HostileJsTest : public ::testing::TestWithParam<HostileCase> {
 protected:
  InvocationResult Run(const std::string& source, absl::Duration budget = absl::Milliseconds(500)) {
    return evaluator_.Eval(InvocationId(++next_), source, budget);
  }
  // The evaluator still works, and nothing of the hostile run is visible.
  void ExpectStillServing() {
    InvocationResult r = Run("[typeof leaked, 6 * 7]");
    ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
    EXPECT_EQ(*r.result_json, R"(["undefined",42])");
  }

  EchoHost host_;
  Watchdog watchdog_;
  Evaluator evaluator_{host_, watchdog_, {}};
  uint64_t next_ = 0;
};

TEST_P(HostileJsTest, SafeOutcome) {
  const HostileCase& c = GetParam();
  InvocationResult r = Run(absl::StrCat("globalThis.leaked = 1;\n", c.source), absl::Milliseconds(c.budget_ms));
  EXPECT_EQ(r.result_json.status().code(), c.code) << r.result_json.status();
  if (c.code == absl::StatusCode::kOk) {
    EXPECT_EQ(*r.result_json, c.result);
  } else {
    EXPECT_THAT(r.result_json.status().message(), HasSubstr(c.message));
  }
  ExpectStillServing();
}

constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
constexpr absl::StatusCode kUser = absl::StatusCode::kUnknown;  // thrown by user code
constexpr absl::StatusCode kCpu = absl::StatusCode::kDeadlineExceeded;
constexpr absl::StatusCode kHeap = absl::StatusCode::kResourceExhausted;

INSTANTIATE_TEST_SUITE_P(
    Matrix, HostileJsTest,
    ::testing::Values(
        HostileCase{"1_busy_loop", "while (true) {}", kCpu, "Function execution timed out", ""},
        HostileCase{"1_catch_termination", "for (;;) { try { for (;;); } catch (e) {} }", kCpu, "Function execution timed out", ""},
        HostileCase{"1_regex_backtracking", "/(a+)+$/.test('a'.repeat(40) + 'b')", kCpu, "Function execution timed out", ""},
        HostileCase{"2_heap_bomb", "for (const a = [];;) a.push(new Array(1e6).fill(1))", kHeap, "JavaScript execution ran out of memory", "",
                    /*budget_ms=*/5000},
        HostileCase{"3_array_buffers", "const b = []; for (let i = 0; i < 10; i++) b.push(new ArrayBuffer(2 ** 28)); 1",
                    kUser, "RangeError: Array buffer allocation failed", ""},
        HostileCase{"3_array_buffer_budget",
                    "const a = []; for (let i = 0; i < 3; i++) a.push(new ArrayBuffer(48 * 2 ** 20)); a.length", kUser,
                    "RangeError: Array buffer allocation failed", ""},
        // One native call the watchdog could not stop: PBKDF2's work is capped.
        HostileCase{"1_pbkdf2_work",
                    "crypto.subtle.importKey('raw', new Uint8Array(8), 'PBKDF2', false, ['deriveBits']).then((k) => "
                    "crypto.subtle.deriveBits({name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(8), "
                    "iterations: 2147483647}, k, 256))",
                    kUser, "PBKDF2 work is too large", ""},
        HostileCase{"4_recursion", "(function f() { f(); })()", kUser, "RangeError: Maximum call stack size exceeded", ""},
        HostileCase{"5_huge_string", "'x'.repeat(2 ** 29).length", kUser, "RangeError: Invalid string length", ""},
        HostileCase{"5_huge_host_call", "Convex.syscall('op', 'x'.repeat(49 * 2 ** 20))", kUser,
                    "RangeError: Convex syscall arguments are too large", ""},
        HostileCase{"6_deep_json", "JSON.parse('['.repeat(1e6))", kUser, "SyntaxError: Unexpected end of JSON input", ""},
        HostileCase{"8_replace_convex", "Object.defineProperty(globalThis, 'Convex', {value: 1})", kUser,
                    "TypeError: Cannot redefine property: Convex", ""},
        HostileCase{"8_mutate_convex",
                    "Convex.syscall = () => 'mine'; delete Convex.syscall; Convex.x = 1; [Convex.syscall('op', 'unchanged'), typeof Convex.x]",
                    kOk, "", R"(["unchanged","undefined"])"},
        HostileCase{"9_reach_the_host", "[typeof require, typeof process.binding, typeof window, typeof Deno, typeof Bun]",
                    kOk, "", R"(["undefined","undefined","undefined","undefined","undefined"])"},
        HostileCase{"9_dynamic_import", "import('fs')", kUser, "Error: import(\"fs\") is only allowed while modules are being imported", ""},
        HostileCase{"10_eval", "eval('1')", kUser, "EvalError", ""},
        HostileCase{"10_indirect_eval", "(0, eval)('1')", kUser, "EvalError", ""},
        HostileCase{"10_function", "new Function('return 1')()", kUser, "EvalError", ""},
        HostileCase{"10_async_function", "(async function () {}).constructor('return 1')", kUser, "EvalError", ""},
        HostileCase{"10_generator_function", "(function* () {}).constructor('yield 1')", kUser, "EvalError", ""},
        HostileCase{"11_atomics_wait", "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1)", kUser,
                    "Atomics.wait cannot be called in this context", ""},
        HostileCase{"12_webassembly", "typeof WebAssembly", kOk, "", R"("undefined")"},
        HostileCase{"13_microtask_storm", "(function f() { Promise.resolve().then(f); })()", kCpu, "Function execution timed out", ""},
        HostileCase{"14_never_settles", "new Promise(() => {})", kUser, "Returned promise will never resolve", ""},
        HostileCase{"15_async_flood", "for (let i = 0; i < 10001; i++) Convex.asyncSyscall('op', '{}')", kUser,
                    "Too many concurrent async syscalls (limit 10000)", ""},
        HostileCase{"15_sync_flood", "for (;;) Convex.syscall('op', '{}')", kCpu, "Function execution timed out", ""},
        HostileCase{"16_getter_message", "throw {get message() { for (;;); }}", kUser, "Uncaught #<Object>", ""},
        HostileCase{"16_proxy", "throw new Proxy({}, {getOwnPropertyDescriptor() { for (;;); }, get() { for (;;); }})", kUser,
                    "Uncaught #<Object>", ""},
        HostileCase{"16_error_with_getter", "const e = new Error('x'); Object.defineProperty(e, 'message', {get() { for (;;); }}); throw e",
                    kUser, "Error", ""}),
    [](const ::testing::TestParamInfo<HostileCase>& info) { return std::string(info.param.name); });

TEST_F(HostileJsTest, Case7_PrototypePollutionDoesNotReachTheHost) {
  // The host receives exactly the string the call passed: the bridge reads no JS properties.
  InvocationResult r = Run(R"(
      Object.prototype.toJSON = () => 'pwned';
      Object.defineProperty(Object.prototype, 'op', {get() { throw new Error('getter ran'); }});
      Array.prototype[Symbol.iterator] = function* () { yield 'pwned'; };
      String.prototype.toString = () => 'pwned';
      Convex.syscall('isobar/echo', '{"a":1}'))");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  ASSERT_EQ(host_.received.size(), 1u);
  EXPECT_EQ(host_.received[0], R"(isobar/echo {"a":1})");
  ExpectStillServing();
}

TEST_F(HostileJsTest, Case17_NothingCrossesToTheNextInvocation) {
  ASSERT_TRUE(Run("globalThis.secret = 's'; Object.prototype.polluted = 1; Math.random = () => 4; 0").result_json.ok());
  evaluator_.Prepare();
  InvocationResult r = Run("[typeof secret, ({}).polluted === undefined, Math.random() === 4]");
  EXPECT_EQ(*r.result_json, R"(["undefined",true,false])");
}

}  // namespace
}  // namespace isobar::worker
