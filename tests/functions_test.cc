// The Functions service end to end: a real app (tests/apps/chat, bundled by esbuild from the public
// convex package) pushed to a real supervisor with embedded PostgreSQL and sandboxed workers, then
// driven through gRPC: results, pagination across pages, validation errors, ConvexError data, keys
// and visibility, identity, environment variables, an action calling a query and a mutation, and OCC
// under concurrent increments.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "tests/module_bundle.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

using Kind = CallKind;

struct Result {
  grpc::Status status;
  isobar::v1::FunctionResponse response;
  isobar::v1::ErrorDetail detail;
  // The result as a Value (undefined unless OK).
  storage::Value value;
};

class FunctionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // Small query limits, so that the admission test can fill them.
    supervisor_ = new SupervisorProcess(
        {.workers = 2, .extra_args = {"--max-queries=2", "--max-queued=16"}});
    absl::Status started = supervisor_->Start();
    ASSERT_TRUE(started.ok()) << started;
    channel_ = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    api_key_ = new std::string(Deploy("chat"));
  }
  static void TearDownTestSuite() {
    // The supervisor's own account of what went wrong, for whoever reads a failed run.
    const ::testing::TestSuite* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
    if (suite != nullptr && suite->failed_test_count() > 0) std::fprintf(stderr, "%s", supervisor_->log().c_str());
    delete api_key_;
    delete channel_;
    delete supervisor_;
    supervisor_ = nullptr;
  }

  static std::string Isobarctl(const std::string& deployment) {
    return absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor_->address(), " --data-dir=",
                        supervisor_->data_dir(), " --deployment=", deployment);
  }

  // Creates `name` and deploys the chat app's convex/ folder to it with `isobarctl deploy` (and
  // `deploy_flags`), as a developer would; returns its API key.
  static std::string Deploy(const std::string& name, const std::string& deploy_flags = "") {
    ShellResult created = RunShell(absl::StrCat(Isobarctl(name), " deployments create ", name));
    EXPECT_EQ(created.status, 0);
    const std::string runfiles = std::filesystem::current_path().parent_path().string();
    ShellResult deployed = RunShell(absl::StrCat(Isobarctl(name), " --esbuild=", runfiles,
                                      "/npm_deps/node_modules/@esbuild/linux-x64/bin/esbuild --node-path=", runfiles,
                                      "/npm_deps/node_modules ", deploy_flags, " deploy tests/apps/chat/convex/"));
    EXPECT_EQ(deployed.status, 0);
    EXPECT_THAT(deployed.out, ::testing::ContainsRegex("action +public +messages:summarize"));
    return std::string(absl::StripAsciiWhitespace(created.out));
  }

  static Result Call(Kind kind, const std::string& path, const std::string& args_json,
                     const std::string& deployment = "chat", const std::string* key = nullptr,
                     const std::string& identity_json = "", const std::string& idempotency_key = "") {
    auto stub = isobar::v1::Functions::NewStub(*channel_);
    FunctionResult called = CallFunction(*stub, kind,
                                         {.deployment = deployment,
                                          .key = key != nullptr ? *key : *api_key_,
                                          .path = path,
                                          .args_json = args_json,
                                          .identity_json = identity_json,
                                          .idempotency_key = idempotency_key,
                                          .timeout = absl::Seconds(60)});
    Result result{std::move(called.status), std::move(called.response), std::move(called.detail), {}};
    if (result.status.ok()) {
      absl::StatusOr<storage::Value> value = storage::ParseConvexJson(result.response.result_json());
      EXPECT_TRUE(value.ok()) << result.response.result_json();
      if (value.ok()) result.value = *value;
    }
    return result;
  }

  static std::string Send(const std::string& channel, const std::string& author, const std::string& body) {
    Result sent = Call(Kind::kMutation, "messages:send",
                       absl::StrCat(R"({"channel":")", channel, R"(","author":")", author, R"(","body":")", body, "\"}"));
    EXPECT_TRUE(sent.status.ok()) << sent.status.error_message();
    return sent.value.type() == storage::Value::Type::kString ? sent.value.string() : "";
  }

  static SupervisorProcess* supervisor_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static std::string* api_key_;
};

SupervisorProcess* FunctionsTest::supervisor_ = nullptr;
std::shared_ptr<grpc::Channel>* FunctionsTest::channel_ = nullptr;
std::string* FunctionsTest::api_key_ = nullptr;

TEST_F(FunctionsTest, MutationsWriteAndQueriesReadThroughIndexes) {
  const std::string first = Send("general", "ann", "hello");
  const std::string second = Send("general", "bob", "hi ann");
  Send("random", "ann", "elsewhere");
  ASSERT_FALSE(first.empty());

  Result got = Call(Kind::kQuery, "messages:get", absl::StrCat(R"({"id":")", first, "\"}"));
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.value.Get("_id").string(), first);
  EXPECT_EQ(got.value.Get("body").string(), "hello");
  EXPECT_EQ(got.value.Get("channel").string(), "general");
  EXPECT_EQ(got.value.Get("_creationTime").type(), storage::Value::Type::kFloat64);

  Result by_author = Call(Kind::kQuery, "messages:byAuthor", R"({"author":"ann"})");
  ASSERT_TRUE(by_author.status.ok()) << by_author.status.error_message();
  ASSERT_EQ(by_author.value.array().size(), 2u);
  // Index order: [author, channel, _creationTime].
  EXPECT_EQ(by_author.value.array()[0].Get("channel").string(), "general");
  EXPECT_EQ(by_author.value.array()[1].Get("channel").string(), "random");
  Result narrowed = Call(Kind::kQuery, "messages:byAuthor", R"({"author":"ann","channel":"random"})");
  ASSERT_TRUE(narrowed.status.ok());
  ASSERT_EQ(narrowed.value.array().size(), 1u);
  EXPECT_EQ(narrowed.value.array()[0].Get("body").string(), "elsewhere");

  Result edited = Call(Kind::kMutation, "messages:edit", absl::StrCat(R"({"id":")", second, R"(","body":"hi, ann"})"));
  ASSERT_TRUE(edited.status.ok()) << edited.status.error_message();
  EXPECT_EQ(edited.response.result_json(), "null");
  got = Call(Kind::kQuery, "messages:get", absl::StrCat(R"({"id":")", second, "\"}"));
  EXPECT_EQ(got.value.Get("body").string(), "hi, ann");
  EXPECT_TRUE(got.value.Get("edited").boolean());

  // Log lines come back with the result.
  Result logged = Call(Kind::kMutation, "messages:send", R"({"channel":"logs","author":"cy","body":"x"})");
  ASSERT_TRUE(logged.status.ok());
  ASSERT_EQ(logged.response.log_lines_size(), 1);
  EXPECT_EQ(logged.response.log_lines(0).message(), "'send to logs by cy'");  // quoted, as Convex prints strings
}

TEST_F(FunctionsTest, PaginationWalksEveryPageNewestFirst) {
  for (int i = 0; i < 7; ++i) Send("paged", "ann", absl::StrCat("m", i));
  std::vector<std::string> bodies;
  std::string cursor = "null";
  int pages = 0;
  for (;;) {
    Result page = Call(Kind::kQuery, "messages:list",
                       absl::StrCat(R"({"channel":"paged","paginationOpts":{"numItems":3,"cursor":)", cursor, "}}"));
    ASSERT_TRUE(page.status.ok()) << page.status.error_message();
    ++pages;
    for (const storage::Value& m : page.value.Get("page").array()) bodies.push_back(m.Get("body").string());
    if (page.value.Get("isDone").boolean()) break;
    cursor = storage::ToConvexJson(page.value.Get("continueCursor"));
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(bodies, (std::vector<std::string>{"m6", "m5", "m4", "m3", "m2", "m1", "m0"}));

  // A cursor is bound to its query: the same cursor on another channel is refused.
  Result first = Call(Kind::kQuery, "messages:list", R"({"channel":"paged","paginationOpts":{"numItems":3,"cursor":null}})");
  ASSERT_TRUE(first.status.ok());
  Result foreign = Call(Kind::kQuery, "messages:list",
                        absl::StrCat(R"({"channel":"general","paginationOpts":{"numItems":3,"cursor":)",
                                     storage::ToConvexJson(first.value.Get("continueCursor")), "}}"));
  EXPECT_FALSE(foreign.status.ok());
}

TEST_F(FunctionsTest, ArgumentAndReturnValidation) {
  Result missing = Call(Kind::kMutation, "messages:send", R"({"channel":"general","author":"ann"})");
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(missing.status.error_message(),
              HasSubstr("ArgumentValidationError: Object is missing the required field `body`"));
  EXPECT_EQ(missing.detail.kind(), isobar::v1::ErrorDetail::INVALID_REQUEST);

  Result wrong_type = Call(Kind::kMutation, "messages:send", R"({"channel":"general","author":"ann","body":3})");
  EXPECT_THAT(wrong_type.status.error_message(), HasSubstr("Path: .body"));

  Result extra = Call(Kind::kQuery, "messages:get", R"({"id":"x","more":1})");
  EXPECT_THAT(extra.status.error_message(), HasSubstr("extra field `more`"));

  // An id of another table does not pass v.id("messages").
  Result counter = Call(Kind::kMutation, "counters:increment", R"({"name":"validation"})");
  ASSERT_TRUE(counter.status.ok());
  Result counters_id = Call(Kind::kQuery, "counters:get", R"({"name":"validation"})");
  ASSERT_TRUE(counters_id.status.ok());

  Result returns = Call(Kind::kQuery, "messages:broken", "{}");
  EXPECT_EQ(returns.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(returns.status.error_message(), HasSubstr("ReturnsValidationError"));
  EXPECT_THAT(returns.status.error_message(), HasSubstr("Validator: v.string()"));

  Result not_json = Call(Kind::kQuery, "messages:get", "{oops");
  EXPECT_EQ(not_json.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Result not_object = Call(Kind::kQuery, "messages:get", "[1]");
  EXPECT_EQ(not_object.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(FunctionsTest, NoCallSeesAnotherCallsRealm) {
  for (int i = 0; i < 8; ++i) {
    Result marked = Call(Kind::kQuery, "realm:mark", absl::StrCat(R"({"call":)", i, "}"));
    ASSERT_TRUE(marked.status.ok()) << marked.status.error_message();
    EXPECT_EQ(marked.response.result_json(), R"({"calls":1,"global":null,"json":"undefined","prototype":null})")
        << "call " << i;
  }
}

TEST_F(FunctionsTest, UserErrorsCarryTheirMessageAndConvexErrorData) {
  Result empty = Call(Kind::kMutation, "messages:send", R"({"channel":"general","author":"ann","body":"  "})");
  EXPECT_FALSE(empty.status.ok());
  EXPECT_EQ(empty.detail.kind(), isobar::v1::ErrorDetail::CONVEX_ERROR);
  absl::StatusOr<storage::Value> data = storage::ParseConvexJson(empty.detail.convex_error_data_json());
  ASSERT_TRUE(data.ok()) << empty.detail.convex_error_data_json();
  EXPECT_EQ(data->Get("code").string(), "EMPTY_BODY");
  EXPECT_EQ(data->Get("channel").string(), "general");
  EXPECT_FALSE(empty.detail.retryable());

  Result long_body = Call(Kind::kMutation, "messages:send",
                          absl::StrCat(R"({"channel":"general","author":"ann","body":")", std::string(1001, 'x'), "\"}"));
  EXPECT_EQ(long_body.detail.kind(), isobar::v1::ErrorDetail::USER_ERROR);
  EXPECT_THAT(long_body.status.error_message(), HasSubstr("message too long"));
  EXPECT_THAT(long_body.detail.stack(), HasSubstr("messages.js"));
  // The stack points at the user's file through the pushed source maps, call after call (the file's
  // path is shown from out/ beside convex/; here that passes Bazel's runfiles symlinks).
  EXPECT_THAT(long_body.detail.stack(), HasSubstr("chat/convex/messages.js:12:35)")) << long_body.detail.stack();
  for (int i = 0; i < 4; ++i) {
    Result again = Call(Kind::kMutation, "messages:send",
                        absl::StrCat(R"({"channel":"general","author":"ann","body":")", std::string(1001, 'x'), "\"}"));
    EXPECT_THAT(again.detail.stack(), HasSubstr("chat/convex/messages.js:12:35)")) << again.detail.stack();
  }

  // A failed mutation writes nothing.
  Result listed = Call(Kind::kQuery, "messages:byAuthor", R"({"author":"ann","channel":"general"})");
  ASSERT_TRUE(listed.status.ok());
  for (const storage::Value& m : listed.value.array()) EXPECT_NE(m.Get("body").string().size(), 1001u);
}

TEST_F(FunctionsTest, KeysKindsAndVisibility) {
  const std::string wrong = "isobar_0000000000000000000000000000000000000000000000000000000000000000";
  Result denied = Call(Kind::kQuery, "counters:get", R"({"name":"a"})", "chat", &wrong);
  EXPECT_EQ(denied.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(denied.detail.kind(), isobar::v1::ErrorDetail::UNAUTHENTICATED);
  Result nowhere = Call(Kind::kQuery, "counters:get", R"({"name":"a"})", "no-such-deployment");
  EXPECT_EQ(nowhere.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Another deployment's key opens only that deployment.
  const std::string other_key = Deploy("chat-two");
  Result crossed = Call(Kind::kQuery, "counters:get", R"({"name":"a"})", "chat", &other_key);
  EXPECT_EQ(crossed.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Result own = Call(Kind::kQuery, "counters:get", R"({"name":"a"})", "chat-two", &other_key);
  EXPECT_TRUE(own.status.ok()) << own.status.error_message();

  Result as_mutation = Call(Kind::kMutation, "counters:get", R"({"name":"a"})");
  EXPECT_EQ(as_mutation.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(as_mutation.status.error_message(),
              HasSubstr("Trying to execute counters.js:get as Mutation, but it is defined as Query."));

  Result missing = Call(Kind::kQuery, "counters:nope", "{}");
  EXPECT_EQ(missing.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.status.error_message(), HasSubstr("Could not find public function for 'counters:nope'"));

  // Internal functions: not with an API key, yes with the admin key.
  Result internal = Call(Kind::kQuery, "messages:channelStats", R"({"channel":"general"})");
  EXPECT_EQ(internal.status.error_code(), grpc::StatusCode::NOT_FOUND);
  const std::string admin = supervisor_->admin_key();
  Result as_admin = Call(Kind::kQuery, "messages:channelStats", R"({"channel":"nobody"})", "chat", &admin);
  ASSERT_TRUE(as_admin.status.ok()) << as_admin.status.error_message();
  EXPECT_EQ(as_admin.response.result_json(), R"({"count":0,"latest":null})");
}

TEST_F(FunctionsTest, NestedCallsShareTheTransactionAndRollBackOnFailure) {
  Result counted = Call(Kind::kMutation, "messages:sendAndCount", R"({"channel":"nested","body":"a"})");
  ASSERT_TRUE(counted.status.ok()) << counted.status.error_message();
  EXPECT_EQ(counted.response.result_json(), "1");  // the nested query saw the nested mutation's insert
  Result survived = Call(Kind::kMutation, "messages:survivesNestedFailure", R"({"channel":"nested"})");
  ASSERT_TRUE(survived.status.ok()) << survived.status.error_message();
  EXPECT_EQ(survived.response.result_json(), "\"NESTED_FAILURE\"");
  std::vector<std::string> bodies;
  Result listed = Call(Kind::kQuery, "messages:list", R"({"channel":"nested","paginationOpts":{"numItems":10,"cursor":null}})");
  ASSERT_TRUE(listed.status.ok()) << listed.status.error_message();
  for (const storage::Value& m : listed.value.Get("page").array()) bodies.push_back(m.Get("body").string());
  EXPECT_EQ(bodies, (std::vector<std::string>{"kept", "a"}));  // not "rolled back"

  Result eight = Call(Kind::kQuery, "messages:nest", R"({"levels":8})");
  ASSERT_TRUE(eight.status.ok()) << eight.status.error_message();
  EXPECT_EQ(eight.response.result_json(), "8");
  Result nine = Call(Kind::kQuery, "messages:nest", R"({"levels":9})");
  EXPECT_FALSE(nine.status.ok());
  EXPECT_THAT(nine.status.error_message(), HasSubstr("Cross component call depth limit exceeded"));
}

// A mutation that starts a nested call and returns without awaiting it: as on Convex, calls a query
// or mutation did not await still run before it returns, so the nested write commits with it. (The
// runner also refuses to commit a function whose transaction is still lent to a nested call, for a
// worker that would not behave so.)
TEST_F(FunctionsTest, ANestedCallThatIsNotAwaitedStillRuns) {
  Result abandoned = Call(Kind::kMutation, "messages:abandonNested", "{}");
  ASSERT_TRUE(abandoned.status.ok()) << abandoned.status.error_message();
  EXPECT_EQ(abandoned.response.result_json(), "\"returned early\"");
  Result listed = Call(Kind::kQuery, "messages:byAuthor", R"({"author":"x","channel":"abandoned"})");
  ASSERT_TRUE(listed.status.ok()) << listed.status.error_message();
  EXPECT_EQ(listed.value.array().size(), 1u);
}

TEST_F(FunctionsTest, QueriesCannotWrite) {
  Result sneaky = Call(Kind::kQuery, "messages:sneakyWrite", "{}");
  EXPECT_FALSE(sneaky.status.ok());
  EXPECT_THAT(sneaky.status.error_message(), HasSubstr("Writes are not allowed in a query"));
}

TEST_F(FunctionsTest, IdentityAndEnvironment) {
  Result anonymous = Call(Kind::kQuery, "counters:whoAmI", "{}");
  ASSERT_TRUE(anonymous.status.ok()) << anonymous.status.error_message();
  EXPECT_EQ(anonymous.response.result_json(), "null");
  // Acting as a user (identity_json) is the admin key's alone; an API key's caller is refused.
  const std::string admin = supervisor_->admin_key();
  const std::string ann = R"({"tokenIdentifier":"https://issuer|u1","subject":"u1","issuer":"https://issuer"})";
  Result posing = Call(Kind::kQuery, "counters:whoAmI", "{}", "chat", nullptr, ann);
  EXPECT_EQ(posing.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(posing.status.error_message(), HasSubstr("identity_json (acting as a user) needs an admin key"));
  Result signed_in = Call(Kind::kQuery, "counters:whoAmI", "{}", "chat", &admin, ann);
  ASSERT_TRUE(signed_in.status.ok()) << signed_in.status.error_message();
  EXPECT_EQ(signed_in.response.result_json(), "\"u1\"");
  Result malformed = Call(Kind::kQuery, "counters:whoAmI", "{}", "chat", &admin, R"({"subject":"u1"})");
  EXPECT_EQ(malformed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  auto deployments = isobar::v1::Deployments::NewStub(*channel_);
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::SetEnvRequest set;
  set.set_deployment("chat");
  set.mutable_variable()->set_name("GREETING");
  set.mutable_variable()->set_value("bonjour");
  isobar::v1::SetEnvResponse response;
  ASSERT_TRUE(deployments->SetEnv(&context, set, &response).ok());
  Result greeting = Call(Kind::kQuery, "counters:setting", R"({"name":"GREETING"})");
  ASSERT_TRUE(greeting.status.ok()) << greeting.status.error_message();
  EXPECT_EQ(greeting.response.result_json(), "\"bonjour\"");
  Result unset = Call(Kind::kQuery, "counters:setting", R"({"name":"NOT_SET"})");
  EXPECT_EQ(unset.response.result_json(), "null");
}

TEST_F(FunctionsTest, AnActionCallsQueriesAndMutations) {
  Send("summed", "ann", "one");
  Send("summed", "bob", "two");
  Result summary = Call(Kind::kAction, "messages:summarize", R"({"channel":"summed"})");
  ASSERT_TRUE(summary.status.ok()) << summary.status.error_message();
  EXPECT_EQ(summary.value.Get("count").float64(), 2.0);
  EXPECT_EQ(summary.value.Get("latest").string(), "two");
  EXPECT_EQ(summary.value.Get("newest").string(), "two");
  // The mutation it ran committed: its id is a summaries document.
  const std::string admin = supervisor_->admin_key();
  Result stored = Call(Kind::kQuery, "messages:get", absl::StrCat(R"({"id":")", summary.value.Get("id").string(), "\"}"),
                       "chat", &admin);
  EXPECT_EQ(stored.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // not a messages id
  EXPECT_THAT(stored.status.error_message(), HasSubstr("v.id(\"messages\")"));
}

TEST_F(FunctionsTest, ConcurrentIncrementsOfOneCounterAreExact) {
  constexpr int kClients = 32;
  constexpr int kIncrements = 50;
  absl::StatusOr<isobar::v1::StatsResponse> before = supervisor_->Stats();
  ASSERT_TRUE(before.ok());
  std::atomic<int> failures{0}, client_retries{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        for (;;) {
          Result r = Call(Kind::kMutation, "counters:increment", R"({"name":"shared"})");
          if (r.status.ok()) break;
          // A conflict that outlasted the server's retries is retryable; anything else is a failure.
          if (r.status.error_code() == grpc::StatusCode::ABORTED && r.detail.retryable()) {
            ++client_retries;
            continue;
          }
          ADD_FAILURE() << r.status.error_message();
          ++failures;
          break;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  Result total = Call(Kind::kQuery, "counters:get", R"({"name":"shared"})");
  ASSERT_TRUE(total.status.ok());
  EXPECT_EQ(total.response.result_json(), storage::ToConvexJson(storage::Value::Int64(kClients * kIncrements)));
  absl::StatusOr<isobar::v1::StatsResponse> after = supervisor_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->functions().occ_conflicts(), before->functions().occ_conflicts());
  EXPECT_GT(after->functions().occ_retries(), before->functions().occ_retries());
  std::printf("occ: %llu conflicts, %llu server retries, %d client retries for %d increments\n",
              static_cast<unsigned long long>(after->functions().occ_conflicts() - before->functions().occ_conflicts()),
              static_cast<unsigned long long>(after->functions().occ_retries() - before->functions().occ_retries()),
              client_retries.load(), kClients * kIncrements);
}

TEST_F(FunctionsTest, DisjointCountersNeverConflict) {
  absl::StatusOr<isobar::v1::StatsResponse> before = supervisor_->Stats();
  ASSERT_TRUE(before.ok());
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([c] {
      for (int i = 0; i < 10; ++i) {
        Result r = Call(Kind::kMutation, "counters:increment", absl::StrCat(R"({"name":"own-)", c, "\"}"));
        EXPECT_TRUE(r.status.ok()) << r.status.error_message();
      }
    });
  }
  for (std::thread& t : clients) t.join();
  absl::StatusOr<isobar::v1::StatsResponse> after = supervisor_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->functions().occ_conflicts(), before->functions().occ_conflicts());
  for (int c = 0; c < 8; ++c) {
    Result r = Call(Kind::kQuery, "counters:get", absl::StrCat(R"({"name":"own-)", c, "\"}"));
    EXPECT_EQ(r.response.result_json(), storage::ToConvexJson(storage::Value::Int64(10)));
  }
}

TEST_F(FunctionsTest, IdempotencyKeysApplyAMutationOnce) {
  auto send = [](const std::string& key) {
    return Call(Kind::kMutation, "messages:send", R"({"channel":"once","author":"ann","body":"exactly once"})", "chat",
                nullptr, "", key);
  };
  Result first = send("key-1");
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  Result again = send("key-1");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_EQ(again.response.result_json(), first.response.result_json());
  EXPECT_TRUE(again.response.log_lines().empty());  // it did not run again
  // Concurrent first calls with one key: one runs, the others get its result.
  std::vector<std::thread> racers;
  std::vector<std::string> results(8);
  for (int i = 0; i < 8; ++i) {
    racers.emplace_back([&, i] {
      Result r = send("key-2");
      EXPECT_TRUE(r.status.ok()) << r.status.error_message();
      results[i] = r.response.result_json();
    });
  }
  for (std::thread& t : racers) t.join();
  for (const std::string& r : results) EXPECT_EQ(r, results[0]);
  EXPECT_NE(results[0], first.response.result_json());
  Result listed = Call(Kind::kQuery, "messages:byAuthor", R"({"author":"ann","channel":"once"})");
  ASSERT_TRUE(listed.status.ok());
  EXPECT_EQ(listed.value.array().size(), 2u);
  // A failed call stores nothing: the same key then succeeds.
  Result failed = Call(Kind::kMutation, "messages:send", R"({"channel":"once","author":"ann","body":" "})", "chat",
                       nullptr, "", "key-3");
  EXPECT_FALSE(failed.status.ok());
  EXPECT_TRUE(send("key-3").status.ok());
  // Keys are for mutations only.
  Result on_query = Call(Kind::kQuery, "counters:get", R"({"name":"x"})", "chat", nullptr, "", "key-4");
  EXPECT_EQ(on_query.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Nobody reads the records: a private system table reads as one with no rows (as on Convex).
  Result peek = Call(Kind::kQuery, "messages:peekInternals", "{}");
  ASSERT_TRUE(peek.status.ok()) << peek.status.error_message();
  EXPECT_TRUE(peek.value.array().empty());
}

TEST_F(FunctionsTest, ScheduledCallsArePersistedAsPendingJobs) {
  const std::string id = Send("sched", "ann", "expires");
  Result scheduled = Call(Kind::kMutation, "messages:expireLater", absl::StrCat(R"({"id":")", id, R"(","afterMs":3600000})"));
  ASSERT_TRUE(scheduled.status.ok()) << scheduled.status.error_message();
  const std::string job = scheduled.value.string();
  Result read = Call(Kind::kQuery, "messages:job", absl::StrCat(R"({"id":")", job, "\"}"));
  ASSERT_TRUE(read.status.ok()) << read.status.error_message();
  EXPECT_EQ(read.value.Get("name").string(), "messages.js:remove");
  EXPECT_EQ(read.value.GetPath("state.kind").string(), "pending");
  EXPECT_EQ(read.value.Get("args").array()[0].Get("id").string(), id);
  const double expected = static_cast<double>(absl::ToUnixMillis(absl::Now() + absl::Hours(1)));
  EXPECT_NEAR(read.value.Get("scheduledTime").float64(), expected, 60000);

  Result canceled = Call(Kind::kMutation, "messages:cancelJob", absl::StrCat(R"({"id":")", job, "\"}"));
  ASSERT_TRUE(canceled.status.ok()) << canceled.status.error_message();
  read = Call(Kind::kQuery, "messages:job", absl::StrCat(R"({"id":")", job, "\"}"));
  EXPECT_EQ(read.value.GetPath("state.kind").string(), "canceled");

  // From an action: its own transaction.
  Result from_action = Call(Kind::kAction, "messages:expireFromAction", absl::StrCat(R"({"id":")", id, "\"}"));
  ASSERT_TRUE(from_action.status.ok()) << from_action.status.error_message();
  read = Call(Kind::kQuery, "messages:job", absl::StrCat(R"({"id":")", from_action.value.string(), "\"}"));
  EXPECT_EQ(read.value.GetPath("state.kind").string(), "canceled");

  Result nowhere = Call(Kind::kMutation, "messages:scheduleNowhere", "{}");
  EXPECT_THAT(nowhere.status.error_message(), HasSubstr("no exported function doesNotExist found in the file: messages.js"));
  Result all = Call(Kind::kQuery, "messages:jobs", "{}");
  ASSERT_TRUE(all.status.ok()) << all.status.error_message();
  EXPECT_EQ(all.value.array().size(), 2u);  // the failed mutation scheduled nothing
}

TEST_F(FunctionsTest, AFloodIsRefusedAtOnceWhileOtherDeploymentsAreServed) {
  const std::string calm_key = Deploy("calm");
  constexpr int kFlood = 60;

  std::atomic<int> ok{0}, refused{0}, other{0};
  std::atomic<int> finished{0};
  size_t max_waiting = 0;
  std::vector<std::thread> flood;
  for (int i = 0; i < kFlood; ++i) {
    // Different arguments: identical queries at one timestamp would share one execution.
    flood.emplace_back([&, i] {
      Result r = Call(Kind::kQuery, "counters:spin", absl::StrCat(R"({"iterations":)", 20000000 + i, "}"));
      if (r.status.ok()) {
        ++ok;
      } else if (r.status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++refused;
        EXPECT_THAT(r.status.error_message(),
                    HasSubstr("deployment \"chat\" has too many queries in flight: 2 running and 16 waiting"));
        EXPECT_TRUE(r.detail.retryable());
        EXPECT_EQ(r.detail.kind(), isobar::v1::ErrorDetail::LIMIT);
      } else {
        ++other;
        ADD_FAILURE() << r.status.error_message();
      }
      ++finished;
    });
  }
  // While the flood's admitted calls run, another deployment's calls are admitted and answered.
  int calm_served = 0;
  while (finished.load() < kFlood) {
    Result calm = Call(Kind::kQuery, "counters:get", R"({"name":"x"})", "calm", &calm_key);
    ASSERT_TRUE(calm.status.ok()) << calm.status.error_message();
    if (finished.load() < kFlood) ++calm_served;
    absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
    ASSERT_TRUE(stats.ok());
    max_waiting = std::max<size_t>(max_waiting, stats->functions().waiting());
  }
  for (std::thread& t : flood) t.join();
  EXPECT_EQ(ok.load() + refused.load(), kFlood);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 18);       // 2 running + 16 waiting were always admitted
  EXPECT_GE(refused.load(), 30);  // the rest found the queue full
  EXPECT_LE(max_waiting, 16u);    // bounded: nothing beyond the queue is kept
  EXPECT_GT(calm_served, 0) << "the other deployment was not served during the flood";
  absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(stats->functions().admission_refused(), static_cast<uint64_t>(refused.load()));
  std::printf("flood: %d admitted, %d refused; %d calls of another deployment served meanwhile\n", ok.load(),
              refused.load(), calm_served);
}

TEST_F(FunctionsTest, InFlightCallsFinishOnTheVersionTheyStartedWith) {
  const std::string key = Deploy("versions");
  Result before = Call(Kind::kQuery, "counters:version", "{}", "versions", &key);
  ASSERT_TRUE(before.status.ok()) << before.status.error_message();
  EXPECT_EQ(before.response.result_json(), "\"version-1\"");
  // An action of version 1 in flight, waiting for its gate.
  Result waited;
  std::thread in_flight([&] { waited = Call(Kind::kAction, "counters:waitForGate", R"({"gate":"g1"})", "versions", &key); });
  ASSERT_TRUE(supervisor_->AwaitStats(
      [](const isobar::v1::StatsResponse& s) { return s.functions().running() >= 1; }, absl::Seconds(30)).ok());

  // Version 2: the same app with another version string, pushed while the action runs.
  absl::StatusOr<std::vector<isobar::worker::v1::Module>> bundle = ReadModuleBundle(Runfile("tests/apps/chat.modules"));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  isobar::v1::PushRequest push;
  push.set_deployment("versions");
  for (const auto& module : *bundle) {
    std::string source = module.source();
    for (size_t at; (at = source.find("version-1")) != std::string::npos;) source.replace(at, 9, "version-2");
    isobar::v1::PushModule* out = push.add_modules();
    out->set_path(module.path());
    out->set_source(source);
  }
  isobar::v1::EnvVar* variable = push.add_environment();  // environment variables can come with a push
  variable->set_name("RELEASE");
  variable->set_value("two");
  auto deployments = isobar::v1::Deployments::NewStub(*channel_);
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::PushResponse pushed;
  grpc::Status status = deployments->Push(&context, push, &pushed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(pushed.version(), 2);
  EXPECT_EQ(Call(Kind::kQuery, "counters:setting", R"({"name":"RELEASE"})", "versions", &key).response.result_json(),
            "\"two\"");
  Result after = Call(Kind::kQuery, "counters:version", "{}", "versions", &key);
  EXPECT_EQ(after.response.result_json(), "\"version-2\"");  // new calls: the new version

  ASSERT_TRUE(Call(Kind::kMutation, "counters:increment", R"({"name":"g1"})", "versions", &key).status.ok());
  in_flight.join();
  ASSERT_TRUE(waited.status.ok()) << waited.status.error_message();
  EXPECT_EQ(waited.response.result_json(), "\"version-1\"");  // the call in flight: the version it began on
}

TEST_F(FunctionsTest, ASchemaTheDataDoesNotMatchIsRefusedNamingTheDocuments) {
  Send("schema", "ann", "a string author");
  absl::StatusOr<std::vector<isobar::worker::v1::Module>> bundle = ReadModuleBundle(Runfile("tests/apps/chat.modules"));
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  isobar::v1::PushRequest push;
  push.set_deployment("chat");
  bool changed = false;
  for (const auto& module : *bundle) {
    std::string source = module.source();
    if (module.path() == "schema.js") {
      // messages.author becomes a number, which the stored messages are not.
      const size_t author = source.find("author: ");
      const size_t string = author == std::string::npos ? author : source.find(".string()", author);
      ASSERT_NE(string, std::string::npos) << source;
      source.replace(string, 9, ".float64()");
      changed = true;
    }
    isobar::v1::PushModule* out = push.add_modules();
    out->set_path(module.path());
    out->set_source(source);
  }
  ASSERT_TRUE(changed);
  auto deployments = isobar::v1::Deployments::NewStub(*channel_);
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::PushResponse pushed;
  grpc::Status status = deployments->Push(&context, push, &pushed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("Schema validation failed"));
  EXPECT_THAT(status.error_message(), ::testing::ContainsRegex("Document with ID \"[0-9a-z]+\" in table \"messages\""));
  EXPECT_THAT(status.error_message(), HasSubstr("Path: .author"));
  // Nothing changed: the same version serves, its indexes intact.
  Result listed = Call(Kind::kQuery, "messages:byAuthor", R"({"author":"ann","channel":"schema"})");
  ASSERT_TRUE(listed.status.ok()) << listed.status.error_message();
  EXPECT_EQ(listed.value.array().size(), 1u);
}

// A second app (tests/apps/abi, CONVEX_ABI.md §9.3 written as an app) through the same API.
TEST_F(FunctionsTest, TheAbiAppRuns) {
  std::string admin_key;
  absl::StatusOr<std::string> deployed = supervisor_->Deploy("abi", "tests/apps/abi.modules", &admin_key);
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  const std::string key = *deployed;
  // Internal functions: the deployment's own admin key reaches them, its Functions key does not.
  EXPECT_TRUE(Call(Kind::kMutation, "messages:countThem", "{}", "abi", &admin_key).status.ok());
  EXPECT_EQ(Call(Kind::kMutation, "messages:countThem", "{}", "abi", &key).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  Result sent = Call(Kind::kMutation, "messages:send", R"({"body":"hello","author":"ann"})", "abi", &key);
  ASSERT_TRUE(sent.status.ok()) << sent.status.error_message();
  Result listed = Call(Kind::kQuery, "messages:list", "{}", "abi", &key);
  ASSERT_TRUE(listed.status.ok()) << listed.status.error_message();
  ASSERT_EQ(listed.value.array().size(), 1u);
  const storage::Value& message = listed.value.array()[0];
  EXPECT_EQ(message.Get("_id").string(), sent.value.string());
  EXPECT_EQ(message.Get("body").string(), "hello!");  // patched after the insert
  EXPECT_EQ(message.Get("n").int64(), 5);             // a bigint survives the round trip
  EXPECT_TRUE(message.Get("tags").is_undefined());
  Result page = Call(Kind::kQuery, "messages:page", R"({"cursor":null})", "abi", &key);
  ASSERT_TRUE(page.status.ok()) << page.status.error_message();
  EXPECT_EQ(page.value.Get("page").array().size(), 1u);
  Result jobs = Call(Kind::kQuery, "messages:scheduled", "{}", "abi", &key);
  ASSERT_TRUE(jobs.status.ok()) << jobs.status.error_message();
  ASSERT_EQ(jobs.value.array().size(), 1u);
  EXPECT_EQ(jobs.value.array()[0].Get("name").string(), "messages.js:cleanup");
  EXPECT_EQ(jobs.value.array()[0].GetPath("state.kind").string(), "pending");
  Result empty = Call(Kind::kMutation, "messages:send", R"({"body":"","author":"ann"})", "abi", &key);
  EXPECT_EQ(empty.detail.kind(), isobar::v1::ErrorDetail::CONVEX_ERROR);
  EXPECT_EQ(empty.detail.convex_error_data_json(), R"({"code":"EMPTY","field":"body"})");
  const std::string admin = supervisor_->admin_key();
  Result who = Call(Kind::kQuery, "messages:whoAmI", "{}", "abi", &admin,
                    R"({"tokenIdentifier":"https://i|s","subject":"s","issuer":"https://i","name":"Ann"})");
  ASSERT_TRUE(who.status.ok()) << who.status.error_message();
  EXPECT_EQ(who.value.Get("name").string(), "Ann");
  // Vector search is not served yet: the action fails saying so, and its mutation ran alone.
  Result act = Call(Kind::kAction, "messages:act", R"({"body":"from an action"})", "abi", &key);
  EXPECT_FALSE(act.status.ok());
  EXPECT_THAT(act.status.error_message(), HasSubstr("vectorSearch"));
}

TEST_F(FunctionsTest, IsobarctlRunPrintsTheResultOrTheError) {
  ShellResult sent = RunShell(absl::StrCat(Isobarctl("chat"), R"( run messages:send '{"channel":"cli","author":"ann","body":"from the shell"}')"));
  EXPECT_EQ(sent.status, 0);
  EXPECT_THAT(sent.out, ::testing::MatchesRegex("\"[0-9a-z]+\"\n"));
  ShellResult listed = RunShell(absl::StrCat(Isobarctl("chat"), R"( run messages:byAuthor '{"author":"ann","channel":"cli"}')"));
  EXPECT_EQ(listed.status, 0);
  EXPECT_THAT(listed.out, HasSubstr(R"("body":"from the shell")"));
  // Internal functions run with the admin key; arguments default to {}.
  ShellResult internal = RunShell(absl::StrCat(Isobarctl("chat"), R"( run messages:channelStats '{"channel":"cli"}')"));
  EXPECT_EQ(internal.status, 0);
  EXPECT_EQ(internal.out, "{\"count\":1,\"latest\":\"from the shell\"}\n");
  // Errors: nothing on stdout, a message on stderr, a non-zero status.
  ShellResult invalid = RunShell(absl::StrCat(Isobarctl("chat"), R"( run messages:send '{"channel":"cli"}' 2>&1 >/dev/null)"));
  EXPECT_NE(invalid.status, 0);
  EXPECT_THAT(invalid.out, HasSubstr("error: INVALID_ARGUMENT: ArgumentValidationError"));
  ShellResult missing = RunShell(absl::StrCat(Isobarctl("chat"), " run messages:nope 2>&1 >/dev/null"));
  EXPECT_NE(missing.status, 0);
  EXPECT_THAT(missing.out, HasSubstr("has no function messages:nope"));
}

// A push chooses how its calls get contexts: by default (fresh) module state starts over in every call;
// a version pushed with `isobarctl deploy --contexts=warm` keeps it between the calls a context serves.
TEST_F(FunctionsTest, APushChoosesFreshOrWarmContexts) {
  const std::string warm_key = Deploy("warmapp", "--contexts=warm");
  std::vector<double> fresh, warm;
  for (int i = 0; i < 12; ++i) {
    Result in_fresh = Call(Kind::kMutation, "counters:contextCalls", "{}");
    ASSERT_TRUE(in_fresh.status.ok()) << in_fresh.status.error_message();
    fresh.push_back(std::stod(in_fresh.response.result_json()));
    Result in_warm = Call(Kind::kMutation, "counters:contextCalls", "{}", "warmapp", &warm_key);
    ASSERT_TRUE(in_warm.status.ok()) << in_warm.status.error_message();
    warm.push_back(std::stod(in_warm.response.result_json()));
  }
  EXPECT_THAT(fresh, ::testing::Each(1.0));
  // Twelve calls over two workers: some context served more than one of them.
  EXPECT_GT(*std::max_element(warm.begin(), warm.end()), 1.0);
  ShellResult refused = RunShell(absl::StrCat(Isobarctl("warmapp"), " --contexts=tepid deploy tests/apps/chat/convex/ 2>&1"));
  EXPECT_NE(refused.status, 0);
  EXPECT_THAT(refused.out, HasSubstr("--contexts is fresh or warm"));
}

// The address and key from the environment (no data directory), env set/list, and logs following a
// deployment's console output.
TEST_F(FunctionsTest, IsobarctlEnvAndLogsWithTheServerFromTheEnvironment) {
  const std::string where = absl::StrCat("ISOBAR_URL=", supervisor_->address(), " ISOBAR_DEPLOYMENT=chat ");
  const std::string binary = absl::StrCat(Runfile("cli/isobarctl"), " --data-dir=/nonexistent");
  const std::string ctl = absl::StrCat(where, "ISOBAR_ADMIN_KEY=", supervisor_->admin_key(), " ", binary);
  // A query that read the variable is cached; setting it makes that result stale.
  EXPECT_EQ(RunShell(absl::StrCat(ctl, R"( run counters:setting '{"name":"GREETING"}')")).status, 0);
  EXPECT_EQ(RunShell(absl::StrCat(ctl, " env set GREETING 'hello there'")).status, 0);
  ShellResult listed = RunShell(absl::StrCat(ctl, " env list"));
  EXPECT_EQ(listed.status, 0);
  EXPECT_THAT(listed.out, HasSubstr("GREETING=hello there\n"));
  ShellResult read = RunShell(absl::StrCat(ctl, R"( run counters:setting '{"name":"GREETING"}')"));
  EXPECT_EQ(read.status, 0);
  EXPECT_EQ(read.out, "\"hello there\"\n");
  ShellResult wrong_key = RunShell(absl::StrCat(where, "ISOBAR_ADMIN_KEY=nope ", binary, " env list 2>&1"));
  EXPECT_NE(wrong_key.status, 0);
  EXPECT_THAT(wrong_key.out, HasSubstr("UNAUTHENTICATED"));

  // `logs` runs until interrupted: the shell's pid (exec keeps it) comes first, to stop it with.
  FILE* logs = popen(absl::StrCat("echo $$; exec env ", ctl, " logs 2>&1").c_str(), "r");
  ASSERT_NE(logs, nullptr);
  char line[512];
  ASSERT_NE(fgets(line, sizeof(line), logs), nullptr);
  const pid_t pid = static_cast<pid_t>(std::stol(line));
  ASSERT_NE(fgets(line, sizeof(line), logs), nullptr);
  EXPECT_STREQ(line, "following the logs of deployment chat (Ctrl-C ends)\n");  // subscribed
  ShellResult sent = RunShell(absl::StrCat(ctl, R"( run messages:send '{"channel":"logs","author":"bo","body":"hi"}')"));
  EXPECT_EQ(sent.status, 0);
  ASSERT_NE(fgets(line, sizeof(line), logs), nullptr);
  EXPECT_THAT(line, ::testing::MatchesRegex("[0-9:.]+ chat/messages:send \\[log\\] 'send to logs by bo'\n"));
  kill(pid, SIGINT);
  pclose(logs);
}

TEST_F(FunctionsTest, IsobarctlWatchPrintsAQuerysValueAsItChanges) {
  const std::string command = absl::StrCat(Isobarctl("chat"), R"( watch counters:get '{"name":"watched"}' --transitions=2)");
  FILE* watch = popen(command.c_str(), "r");
  ASSERT_NE(watch, nullptr);
  char line[256];
  ASSERT_NE(fgets(line, sizeof(line), watch), nullptr);
  EXPECT_STREQ(line, "{\"$integer\":\"AAAAAAAAAAA=\"}\n");  // 0n, as Convex JSON
  // Its first value is printed, so it is subscribed: a commit into what it read brings the next one.
  ShellResult incremented = RunShell(absl::StrCat(Isobarctl("chat"), R"( run counters:increment '{"name":"watched"}')"));
  EXPECT_EQ(incremented.status, 0);
  ASSERT_NE(fgets(line, sizeof(line), watch), nullptr);
  EXPECT_STREQ(line, "{\"$integer\":\"AQAAAAAAAAA=\"}\n");  // 1n
  EXPECT_EQ(pclose(watch), 0);
}

}  // namespace
}  // namespace isobar::testing
