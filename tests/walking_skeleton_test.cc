// The walking skeleton end to end: a real supervisor with embedded PostgreSQL, real sandboxed worker
// processes, real gRPC. Covers issue 2's scenarios: eval with a host call that writes a row, a worker
// killed and restarted, a CPU burn cut off while the other worker serves, execve killed by seccomp.
#include <signal.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_conn.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class WalkingSkeletonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 2, .enable_eval = true, .test_worker = true});
    absl::Status started = supervisor_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() {
    absl::StatusOr<ExitStatus> stopped = supervisor_->Stop();
    EXPECT_TRUE(stopped.ok() && stopped->Success()) << (stopped.ok() ? stopped->ToString() : stopped.status().ToString())
                                                    << "\n" << supervisor_->log();
    delete supervisor_;
  }
  void SetUp() override {
    if (supervisor_ == nullptr || supervisor_->address().empty()) GTEST_SKIP() << "supervisor did not start";
  }

  // Waits until every worker is ready; returns the stats.
  static isobar::v1::StatsResponse AllReady() {
    absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->AwaitStats(
        [](const isobar::v1::StatsResponse& s) {
          for (const auto& w : s.workers()) {
            if (w.state() != "ready") return false;
          }
          return true;
        },
        absl::Seconds(30));
    EXPECT_TRUE(stats.ok()) << stats.status();
    return stats.ok() ? *stats : isobar::v1::StatsResponse();
  }

  static SupervisorProcess* supervisor_;
};

SupervisorProcess* WalkingSkeletonTest::supervisor_ = nullptr;

TEST_F(WalkingSkeletonTest, EvalReturnsTheValue) {
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval("1 + 2", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result_json(), "3");

  status = supervisor_->Eval("console.log('hi', {a: 1}); Promise.resolve([1, 'two'])", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result_json(), R"([1,"two"])");
  ASSERT_EQ(response.log_lines_size(), 1);
  EXPECT_EQ(response.log_lines(0).message(), "'hi' {\n  a: 1\n}");
}

// The Web APIs that reach native code (kernel randomness, OpenSSL digests) and the rest of the
// prelude work inside the real seccomp filter: same answers, no worker lost.
TEST_F(WalkingSkeletonTest, WebApisWorkUnderTheSandbox) {
  isobar::v1::StatsResponse before = AllReady();
  for (int i = 0; i < 4; ++i) {  // every worker, more than once
    isobar::v1::EvalResponse response;
    grpc::Status status = supervisor_->Eval(
        R"((async () => {
             const digest = await crypto.subtle.digest("SHA-512", new TextEncoder().encode("abc"));
             const random = crypto.getRandomValues(new Uint32Array(64)).some((x) => x !== 0);
             const url = new URL("../x?y=1", "https://example.com/a/b");
             const blob = await new Blob(["a", new Uint8Array([98])]).text();
             return [new Uint8Array(digest)[0], random, url.href, blob, crypto.randomUUID().length, atob(btoa("ok")),
                     structuredClone(new Map([[1, 2]])).get(1), new Response("r").status];
           })())",
        &response);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << supervisor_->log();
    EXPECT_EQ(response.result_json(), R"([221,true,"https://example.com/x?y=1","ab",36,"ok",2,200])");
  }
  isobar::v1::StatsResponse after = AllReady();
  for (int w = 0; w < after.workers_size(); ++w) {
    EXPECT_EQ(after.workers(w).starts(), before.workers(w).starts());
    EXPECT_EQ(after.workers(w).security_events(), before.workers(w).security_events());
    if (after.workers(w).invocations() > before.workers(w).invocations()) {
      // Each worker reports its isolate pool: the development isolate is cached, with heap in use.
      EXPECT_GE(after.workers(w).isolates(), 1u);
      EXPECT_GE(after.workers(w).isolate_hits() + after.workers(w).isolate_misses(), 1u);
      EXPECT_GT(after.workers(w).heap_in_use_bytes(), 0u);
    }
  }
}

// Every error carries an ErrorDetail: what kind of failure, the user's stack, whether to retry.
TEST_F(WalkingSkeletonTest, ErrorsCarryStructuredDetail) {
  isobar::v1::EvalResponse response;
  isobar::v1::ErrorDetail detail;
  grpc::Status status = supervisor_->Eval("(function thrower() { throw new TypeError('bad thing'); })()", &response,
                                          0, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(detail.kind(), isobar::v1::ErrorDetail::USER_ERROR);
  EXPECT_EQ(detail.message(), "Uncaught TypeError: bad thing");
  EXPECT_THAT(detail.stack(), HasSubstr("at thrower (eval.js:1:"));
  EXPECT_FALSE(detail.retryable());

  status = supervisor_->Eval("while (true) {}", &response, /*timeout_ms=*/50, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(detail.kind(), isobar::v1::ErrorDetail::LIMIT);
  EXPECT_THAT(detail.message(), HasSubstr("Function execution timed out"));
  EXPECT_TRUE(detail.stack().empty());

  grpc::ClientContext context;  // no key
  isobar::v1::StatsResponse stats;
  status = supervisor_->admin().Stats(&context, isobar::v1::StatsRequest(), &stats);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ErrorDetailOf(context).kind(), isobar::v1::ErrorDetail::UNAUTHENTICATED);
}

TEST_F(WalkingSkeletonTest, HostCallWritesItsRowToPostgres) {
  const std::string payload = R"({"note":"it's \"quoted\"; DROP TABLE isobar.echo_log; --","n":7})";
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval(
      absl::StrCat("const r = JSON.parse(Convex.syscall('isobar/echo', JSON.stringify(", payload,
                   "))); [r.echo.n, r.row]"),
      &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<std::string> parts = absl::StrSplit(response.result_json().substr(1, response.result_json().size() - 2), ',');
  ASSERT_EQ(parts.size(), 2u) << response.result_json();
  EXPECT_EQ(parts[0], "7");

  absl::StatusOr<std::unique_ptr<storage::PgConn>> conn = storage::PgConn::Connect(supervisor_->pg_conninfo());
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<storage::PgResult> row =
      (*conn)->Exec("SELECT payload, worker_id FROM isobar.echo_log WHERE id = $1", {parts[1]});
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_EQ(row->rows(), 1);
  EXPECT_EQ(row->Get(0, 0), payload);
  EXPECT_EQ(std::string(row->Get(0, 1)), absl::StrCat(response.worker_id()));
}

TEST_F(WalkingSkeletonTest, HostCallErrorsReachJavaScript) {
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval(
      "const out = []; "
      "try { Convex.syscall('isobar/no-such-op', '{}') } catch (e) { out.push(e.message) } "
      "try { Convex.syscall('isobar/echo', '{not json') } catch (e) { out.push(e.message) } "
      "out",
      &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.result_json(), R"(["Unknown operation isobar/no-such-op","isobar/echo takes one JSON value"])");
}

TEST_F(WalkingSkeletonTest, UserErrorsAreUnknownWithTheirMessage) {
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval("throw new TypeError('nope')", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(status.error_message(), "Uncaught TypeError: nope");
  status = supervisor_->Eval("eval('1')", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_THAT(status.error_message(), HasSubstr("EvalError"));
}

TEST_F(WalkingSkeletonTest, CallsNeedTheAdminKey) {
  isobar::v1::PingResponse response;
  {
    grpc::ClientContext context;
    EXPECT_EQ(supervisor_->admin().Ping(&context, {}, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + supervisor_->admin_key() + "x");
    EXPECT_EQ(supervisor_->admin().Ping(&context, {}, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    supervisor_->Authorize(context);
    EXPECT_TRUE(supervisor_->admin().Ping(&context, {}, &response).ok());
  }
}

TEST_F(WalkingSkeletonTest, CpuBurnIsCutOffWhileTheOtherWorkerServes) {
  AllReady();
  std::atomic<bool> burning_done{false};
  grpc::Status burn_status;
  std::thread burner([&] {
    isobar::v1::EvalResponse response;
    burn_status = supervisor_->Eval("while (true) {}", &response, /*timeout_ms=*/3000);
    burning_done = true;
  });
  // Once the burn occupies one worker, the other keeps answering.
  absl::StatusOr<isobar::v1::StatsResponse> busy = supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) {
        int in_flight = 0;
        for (const auto& w : s.workers()) in_flight += static_cast<int>(w.in_flight());
        return in_flight == 1;
      },
      absl::Seconds(10));
  ASSERT_TRUE(busy.ok()) << busy.status();
  int served = 0;
  for (int i = 0; i < 20; ++i) {
    isobar::v1::EvalResponse response;
    grpc::Status status = supervisor_->Eval(absl::StrCat(i, " * 2"), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.result_json(), absl::StrCat(i * 2));
    ++served;
  }
  EXPECT_FALSE(burning_done.load()) << "the other worker should have served all 20 while the burn ran";
  burner.join();
  EXPECT_EQ(served, 20);
  EXPECT_EQ(burn_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(burn_status.error_message(), HasSubstr("Function execution timed out"));
}

TEST_F(WalkingSkeletonTest, KilledWorkerIsRestartedAndTheNextCallSucceeds) {
  isobar::v1::StatsResponse before = AllReady();
  ASSERT_EQ(before.workers_size(), 2);
  const auto victim = before.workers(0);
  ASSERT_GT(victim.pid(), 0);
  ASSERT_EQ(kill(static_cast<pid_t>(victim.pid()), SIGKILL), 0);

  absl::StatusOr<isobar::v1::StatsResponse> after = supervisor_->AwaitStats(
      [&](const isobar::v1::StatsResponse& s) {
        const auto& w = s.workers(0);
        return w.starts() == victim.starts() + 1 && w.state() == "ready" && w.pid() != victim.pid();
      },
      absl::Seconds(30));
  ASSERT_TRUE(after.ok()) << after.status() << "\n" << supervisor_->log();
  EXPECT_EQ(after->workers(0).crashes(), victim.crashes() + 1);
  EXPECT_EQ(after->workers(0).security_events(), victim.security_events());

  for (int i = 0; i < 4; ++i) {
    isobar::v1::EvalResponse response;
    grpc::Status status = supervisor_->Eval("'alive'", &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.result_json(), R"("alive")");
  }
}

// A worker that stops answering heartbeats (here: frozen with SIGSTOP) is killed and replaced; the other
// keeps serving.
TEST(WalkingSkeletonHeartbeatTest, AFrozenWorkerIsReplaced) {
  SupervisorProcess supervisor({.workers = 2, .extra_args = {"--heartbeat-ms=100"}});
  ASSERT_TRUE(supervisor.Start().ok());
  absl::StatusOr<isobar::v1::StatsResponse> ready = supervisor.AwaitStats(
      [](const isobar::v1::StatsResponse& s) {
        return s.workers_size() == 2 && s.workers(0).state() == "ready" && s.workers(1).state() == "ready";
      },
      absl::Seconds(30));
  ASSERT_TRUE(ready.ok());
  const auto frozen = ready->workers(0);
  ASSERT_EQ(kill(static_cast<pid_t>(frozen.pid()), SIGSTOP), 0);
  absl::StatusOr<isobar::v1::StatsResponse> replaced = supervisor.AwaitStats(
      [&](const isobar::v1::StatsResponse& s) {
        const auto& w = s.workers(0);
        return w.heartbeat_kills() == 1 && w.starts() == frozen.starts() + 1 && w.state() == "ready";
      },
      absl::Seconds(30));
  ASSERT_TRUE(replaced.ok()) << supervisor.log();
  EXPECT_THAT(supervisor.log(), HasSubstr("has not answered a heartbeat"));
  EXPECT_EQ(replaced->workers(1).heartbeat_kills(), 0u);  // the healthy one answers
  for (int i = 0; i < 4; ++i) {
    isobar::v1::EvalResponse response;
    ASSERT_TRUE(supervisor.Eval("'alive'", &response).ok());
  }
}

TEST_F(WalkingSkeletonTest, AnInvocationOnAKilledWorkerFailsUnavailable) {
  AllReady();
  std::thread killer([] {
    absl::StatusOr<isobar::v1::StatsResponse> busy = supervisor_->AwaitStats(
        [](const isobar::v1::StatsResponse& s) {
          for (const auto& w : s.workers()) {
            if (w.in_flight() == 1) return true;
          }
          return false;
        },
        absl::Seconds(10));
    ASSERT_TRUE(busy.ok()) << busy.status();
    for (const auto& w : busy->workers()) {
      if (w.in_flight() == 1) kill(static_cast<pid_t>(w.pid()), SIGKILL);
    }
  });
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval("while (true) {}", &response, /*timeout_ms=*/20000);
  killer.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("died (signal 9 (SIGKILL))"));
}

TEST_F(WalkingSkeletonTest, ExecveInASandboxedWorkerIsASecurityEvent) {
  isobar::v1::StatsResponse before = AllReady();
  uint64_t events_before = before.security_events();
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval("__isobarTest.execve()", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("SIGSYS"));

  absl::StatusOr<isobar::v1::StatsResponse> after = supervisor_->AwaitStats(
      [&](const isobar::v1::StatsResponse& s) {
        if (s.security_events() != events_before + 1) return false;
        for (const auto& w : s.workers()) {
          if (w.state() != "ready") return false;
        }
        return true;
      },
      absl::Seconds(30));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(supervisor_->log(), HasSubstr("SECURITY pool: security event: worker"));
  EXPECT_THAT(supervisor_->log(), HasSubstr("killed by the seccomp filter (signal 31 (SIGSYS))"));
  status = supervisor_->Eval("'still serving'", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

// A deployment whose invocations keep killing workers is quarantined: after the third seccomp kill its
// invocations are refused at once, with the reason, and Stats lists it.
TEST(WalkingSkeletonQuarantineTest, RepeatedEscapeAttemptsQuarantineTheDeployment) {
  SupervisorProcess supervisor({.workers = 1, .test_worker = true});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  isobar::v1::EvalResponse response;
  for (int i = 0; i < 3; ++i) {
    grpc::Status status = supervisor.Eval("__isobarTest.execve()", &response);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    ASSERT_THAT(status.error_message(), HasSubstr("SIGSYS"));
  }
  grpc::Status status = supervisor.Eval("'harmless now'", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("is quarantined until"));
  isobar::v1::ErrorDetail detail;
  status = supervisor.Eval("'still refused'", &response, 0, &detail);
  EXPECT_EQ(detail.kind(), isobar::v1::ErrorDetail::PRECONDITION);
  EXPECT_FALSE(detail.retryable());
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor.AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.security_events() == 3 && s.quarantined_deployments_size() == 1; },
      absl::Seconds(30));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->quarantined_deployments(0), "");  // Admin.Eval's development deployment
  EXPECT_THAT(supervisor.log(), HasSubstr("SECURITY pool: deployment \"\" quarantined for 1h"));
  EXPECT_THAT(supervisor.log(), HasSubstr("while running invocation"));
  EXPECT_THAT(supervisor.log(), HasSubstr("offending system call: unknown (kill mode)"));
}

// A worker stuck in native code past a call's deadline is killed, and that is logged once (it used to
// be logged on every expiry pass until the worker was reaped: thousands of lines).
TEST(WalkingSkeletonHungWorkerTest, AHungWorkerIsKilledAndLoggedOnce) {
  SupervisorProcess supervisor({.workers = 1, .test_worker = true});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor.Eval("__isobarTest.spin(60)", &response, /*timeout_ms=*/500);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  // The pool kills the worker after its grace (10 s) and starts another: a call then succeeds.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  do {
    status = supervisor.Eval("'after'", &response, 2000);
  } while (!status.ok() && absl::Now() < deadline);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string log = supervisor.log();
  size_t lines = 0;
  for (size_t at = log.find("has not finished invocation"); at != std::string::npos;
       at = log.find("has not finished invocation", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
}

// A compromised worker that breaks the framing of its channel (a length past the limit, a frame that
// is no message) is cut off and replaced; its call fails UNAVAILABLE and the next call is served.
TEST(WalkingSkeletonCompromisedWorkerTest, AWorkerThatBreaksItsChannelsFramingIsReplaced) {
  SupervisorProcess supervisor({.workers = 1, .test_worker = true});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  const struct {
    const char* bytes;  // as a JS string literal
    const char* logged;
  } cases[] = {
      {R"('\xff\xff\xff\x7f')", "broke the protocol (a frame longer than the limit)"},
      {R"('\x03\x00\x00\x00\xff\xff\xff')", "broke the protocol (a message that does not parse)"},
  };
  for (const auto& c : cases) {
    isobar::v1::EvalResponse response;
    grpc::Status status = supervisor.Eval(
        absl::StrCat("__isobarTest.writeChannel(", c.bytes, "); new Promise(() => {})"), &response, /*timeout_ms=*/20000);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_THAT(supervisor.log(), HasSubstr(c.logged));
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    do {
      status = supervisor.Eval("'after'", &response, 2000);
    } while (!status.ok() && absl::Now() < deadline);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
}

// In report mode (--sandbox=report, for debugging a policy) the security event names the system call.
TEST(WalkingSkeletonReportModeTest, TheSecurityEventNamesTheSystemCall) {
  SupervisorProcess supervisor({.workers = 1, .test_worker = true, .sandbox = "report"});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor.Eval("__isobarTest.execve()", &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor.AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.security_events() == 1; }, absl::Seconds(30));
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_THAT(supervisor.log(), HasSubstr("offending system call: 59 (execve)"));
  EXPECT_THAT(supervisor.log(), HasSubstr("worker 0: seccomp violation: syscall 59 (execve)"));
}

TEST(WalkingSkeletonEvalOffTest, EvalIsRefusedUnlessEnabled) {
  SupervisorProcess supervisor({.workers = 1, .enable_eval = false});
  absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor.Eval("1", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("--enable-eval"));
  // A second start on the same data directory reuses the cluster and the admin key.
  const std::string key = supervisor.admin_key();
  absl::StatusOr<ExitStatus> stopped = supervisor.Stop();
  ASSERT_TRUE(stopped.ok() && stopped->Success()) << supervisor.log();
  started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(supervisor.admin_key(), key);
  EXPECT_THAT(supervisor.log(), Not(HasSubstr("ERROR")));
  EXPECT_EQ(supervisor.Eval("1", &response).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace isobar::testing
