// The evaluator on real V8 with a fake host: results, errors, limits and isolation.
#include "worker/evaluator.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct RecordedCall {
  uint64_t invocation;
  std::string op;
  std::string args;
};

class FakeHost : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId invocation, absl::string_view op,
                                   absl::string_view args_json) override {
    calls.push_back({invocation.value(), std::string(op), std::string(args_json)});
    if (op == "fail") return absl::NotFoundError("no such thing");
    if (op == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a slow supervisor
    return absl::StrCat("{\"echo\":", args_json, "}");
  }
  std::vector<RecordedCall> calls;
};

class EvaluatorTest : public ::testing::Test {
 protected:
  InvocationResult Run(absl::string_view source, absl::Duration budget = absl::Seconds(2)) {
    return evaluator_.Eval(InvocationId(++next_id_), source, budget);
  }
  FakeHost host_;
  Watchdog watchdog_;
  Evaluator evaluator_{host_, watchdog_, {}};
  uint64_t next_id_ = 0;
};

TEST_F(EvaluatorTest, ReturnsJson) {
  EXPECT_EQ(*Run("1 + 2").result_json, "3");
  EXPECT_EQ(*Run("({b: [1, 'x'], a: null})").result_json, R"({"b":[1,"x"],"a":null})");
  EXPECT_EQ(*Run("undefined").result_json, "");
  EXPECT_EQ(*Run("Promise.resolve(7)").result_json, "7");
}

TEST_F(EvaluatorTest, SyscallsGoThroughTheHostWithTheInvocationId) {
  InvocationResult r = Run(R"(JSON.parse(Convex.syscall("isobar/echo", JSON.stringify({x: 1}))).echo.x)");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  EXPECT_EQ(*r.result_json, "1");
  ASSERT_EQ(host_.calls.size(), 1u);
  EXPECT_EQ(host_.calls[0].invocation, next_id_);
  EXPECT_EQ(host_.calls[0].op, "isobar/echo");
  EXPECT_EQ(host_.calls[0].args, R"({"x":1})");

  r = Run(R"((async () => JSON.parse(await Convex.asyncSyscall("a", "[2]")).echo[0])())");
  EXPECT_EQ(*r.result_json, "2");
}

TEST_F(EvaluatorTest, HostErrorsAreCatchableExceptions) {
  InvocationResult r = Run(R"(try { Convex.syscall("fail", "{}"); "no" } catch (e) { e.message })");
  EXPECT_EQ(*r.result_json, R"("no such thing")");
  r = Run(R"(Convex.asyncSyscall("fail", "{}").catch(e => "rejected: " + e.message))");
  EXPECT_EQ(*r.result_json, R"("rejected: no such thing")");
  r = Run(R"(Convex.syscall(1, 2))");
  EXPECT_EQ(r.result_json.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(r.result_json.status().message(), HasSubstr("TypeError"));
}

TEST_F(EvaluatorTest, ThrownErrorsAreUserErrors) {
  InvocationResult r = Run("throw new Error('boom')");
  EXPECT_EQ(r.result_json.status().code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(r.result_json.status().message(), "Uncaught Error: boom");  // as Convex words it
  EXPECT_TRUE(r.user_error);
  r = Run("Promise.reject(new RangeError('later'))");
  EXPECT_EQ(r.result_json.status().message(), "Uncaught RangeError: later");
  r = Run("new Promise(() => {})");
  EXPECT_EQ(r.result_json.status().message(), "Returned promise will never resolve");
}

TEST_F(EvaluatorTest, WaitingForTheHostIsNotCharged) {
  InvocationResult r = Run(R"(Convex.syscall("slow", "1"); "done")", absl::Milliseconds(100));
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  EXPECT_EQ(*r.result_json, R"("done")");
  EXPECT_LT(r.cpu_time, absl::Milliseconds(100));
}

TEST_F(EvaluatorTest, EachInvocationGetsAFreshContext) {
  EXPECT_EQ(*Run("globalThis.secret = 'a'; Object.prototype.polluted = 1; 'set'").result_json, R"("set")");
  EXPECT_EQ(*Run("[typeof secret, ({}).polluted === undefined]").result_json, R"(["undefined",true])");
}

TEST_F(EvaluatorTest, PreparedContextsServeOneInvocationEach) {
  evaluator_.Prepare();
  evaluator_.Prepare();  // already prepared: no-op
  EXPECT_EQ(*Run("globalThis.leak = 'x'; Math.random = () => 4; typeof Convex").result_json, R"("object")");
  evaluator_.Prepare();
  EXPECT_EQ(*Run("[typeof leak, Math.random() === 4]").result_json, R"(["undefined",false])");
  // Still right without a prepared context, and after a recycle.
  EXPECT_EQ(Run("while (true) {}", absl::Milliseconds(50)).result_json.status().code(),
            absl::StatusCode::kDeadlineExceeded);
  evaluator_.Prepare();
  EXPECT_EQ(*Run("typeof leak").result_json, R"("undefined")");
}

// Formatted and bounded as Convex's runtime does (its udf-runtime console and log_lines.rs).
TEST_F(EvaluatorTest, ConsoleIsCapturedAndBounded) {
  InvocationResult r = Run("console.log('a', 1, {b: 2}); console.error('bad'); 0");
  ASSERT_EQ(r.logs.size(), 2u);
  EXPECT_EQ(r.logs[0].level, "log");
  EXPECT_EQ(r.logs[0].message, "'a' 1 {\n  b: 2\n}");  // object-inspect with Convex's options
  EXPECT_EQ(r.logs[1].level, "error");
  r = Run("for (let i = 0; i < 1000; i++) console.log(i); 0");
  ASSERT_EQ(r.logs.size(), 256u);  // 255 lines, then the notice
  EXPECT_EQ(r.logs[254].message, "254");
  EXPECT_EQ(r.logs[255].level, "error");
  EXPECT_EQ(r.logs[255].message, "Log overflow (maximum 256). Remaining log lines omitted.");
  r = Run("console.log('x'.repeat(100000)); 0");
  ASSERT_EQ(r.logs.size(), 1u);
  // Quoted, cut at 32768 bytes, and marked.
  EXPECT_EQ(r.logs[0].message, "'" + std::string(32767, 'x') + " (truncated due to length)");
}

TEST(DenyAllHostCallsTest, RefusesEverything) {
  DenyAllHostCalls deny;
  EXPECT_EQ(deny.Call(InvocationId(1), "isobar/echo", "{}").status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace isobar::worker
