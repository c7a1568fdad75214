// A hostile tenant against what it shares with others (issue 16, item 2; SECURITY.md §5), on a real
// supervisor: each case asserts the exact safe outcome.
//   - six actions each fanning out into 40 nested queries: each nested query is admitted like a
//     client's call (here at most 2 queries of the deployment at a time), and all answer;
//   - JSON.stringify replaced: the function's own result fails as a user error (not INTERNAL), and
//     the runtime's host calls (process.env) never go through the replacement;
//   - getTransactionMetrics reports what Convex does (disjoint read ranges against 4096);
//   - bytes that are not protobuf answer INVALID_ARGUMENT, not INTERNAL.
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

class HostileTenantTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 2, .enable_eval = false, .extra_args = {"--max-queries=2"}});
    ASSERT_TRUE(supervisor_->Start().ok());
    absl::StatusOr<std::string> key = supervisor_->Deploy("tenant", "tests/apps/board.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = new std::string(*key);
  }
  static void TearDownTestSuite() {
    delete key_;
    delete supervisor_;
  }
  static FunctionResult Call(CallKind kind, const std::string& path, const std::string& args = "{}") {
    auto stub = isobar::v1::Functions::NewStub(
        grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    return CallFunction(*stub, kind,
                        {.deployment = "tenant", .key = *key_, .path = path, .args_json = args, .timeout = absl::Minutes(2)});
  }

  static SupervisorProcess* supervisor_;
  static std::string* key_;
};

SupervisorProcess* HostileTenantTest::supervisor_ = nullptr;
std::string* HostileTenantTest::key_ = nullptr;

TEST_F(HostileTenantTest, AnActionsNestedCallsAreAdmittedLikeClientCalls) {
  std::atomic<bool> done{false};
  uint32_t most_running = 0, most_waiting = 0;
  std::thread watcher([&] {
    // Samples the client calls running and waiting (the actions, and the nested queries admitted
    // with them).
    while (!done.load()) {
      absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
      if (!stats.ok()) continue;
      most_running = std::max(most_running, stats->functions().running());
      most_waiting = std::max(most_waiting, stats->functions().waiting());
    }
  });
  constexpr int kActions = 6;
  std::vector<FunctionResult> fanned(kActions);
  std::vector<std::thread> clients;
  for (int i = 0; i < kActions; ++i) {
    clients.emplace_back([&, i] { fanned[i] = Call(CallKind::kAction, "tenant:fanOut"); });
  }
  for (std::thread& t : clients) t.join();
  done = true;
  watcher.join();
  for (const FunctionResult& result : fanned) {
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    EXPECT_EQ(result.response.result_json(), "780");  // 0 + 1 + ... + 39
  }
  EXPECT_LE(most_running, kActions + 2u) << "the actions, and at most --max-queries=2 nested queries";
  EXPECT_GE(most_waiting, 1u) << "six actions' nested queries never waited for the deployment's two query slots";
}

TEST_F(HostileTenantTest, AReplacedJsonStringifyIsTheFunctionsOwnProblem) {
  FunctionResult replaced = Call(CallKind::kQuery, "tenant:replacedStringify");
  EXPECT_EQ(replaced.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << replaced.status.error_message();
  EXPECT_THAT(replaced.status.error_message(), HasSubstr("was JSON.stringify replaced?"));
  EXPECT_NE(replaced.detail.kind(), isobar::v1::ErrorDetail::INTERNAL);

  // The runtime reads process.env with the JSON it started with: the right variable, parsed right.
  FunctionResult env = Call(CallKind::kQuery, "tenant:envAfterTampering");
  ASSERT_TRUE(env.status.ok()) << env.status.error_message();
  EXPECT_EQ(env.response.result_json(), absl::StrCat("\"", supervisor_->http_url(), "/d/tenant\""));
}

TEST_F(HostileTenantTest, TransactionMetricsCountDisjointReadRangesAsConvexDoes) {
  FunctionResult sent = Call(CallKind::kMutation, "messages:send", R"({"author":"m","body":"b"})");
  ASSERT_TRUE(sent.status.ok()) << sent.status.error_message();
  FunctionResult metrics = Call(CallKind::kQuery, "tenant:metrics", absl::StrCat(R"({"id":)", sent.response.result_json(), "}"));
  ASSERT_TRUE(metrics.status.ok()) << metrics.status.error_message();
  // One point (the same id twice) and one index range.
  EXPECT_EQ(metrics.response.result_json(), R"({"remaining":4094,"used":2})");
}

// Bytes that are not a protobuf message, sent raw to a unary method: the client's error.
TEST_F(HostileTenantTest, AMalformedRequestIsInvalidArgumentNotInternal) {
  auto channel = grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  for (const char* method : {"/isobar.v1.Functions/Query", "/isobar.v1.Admin/Ping", "/isobar.v1.Deployments/Push"}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", absl::StrCat("Bearer ", *key_));
    const std::string garbage = "\xff\xff\xff\xff\x0f";
    grpc::Slice slice(garbage.data(), garbage.size());
    grpc::ByteBuffer request(&slice, 1), response;
    grpc::CompletionQueue queue;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> call = stub.PrepareUnaryCall(&context, method, request, &queue);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(queue.Next(&tag, &ok));
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("not a valid protobuf message"));
    const isobar::v1::ErrorDetail detail = ErrorDetailOf(context);
    EXPECT_EQ(detail.kind(), isobar::v1::ErrorDetail::INVALID_REQUEST) << method;
    EXPECT_FALSE(detail.retryable());
    queue.Shutdown();
  }
  // A well-formed call still answers.
  FunctionResult fine = Call(CallKind::kQuery, "messages:list");
  EXPECT_TRUE(fine.status.ok()) << fine.status.error_message();
}

}  // namespace
}  // namespace isobar::testing
