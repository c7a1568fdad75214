// CONVEX_ABI.md §9.3 on real V8 with a real bundle: tests/apps/abi (written as an app is, with
// _generated/ files, a schema, crons and an HTTP router) bundled by esbuild from the public convex
// npm package, run against a fake host that records every syscall; and deploy-time analysis of it.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/module_bundle.h"
#include "tests/supervisor_fixture.h"
#include "worker/evaluator.h"
#include "worker/watchdog.h"

namespace isobar::worker {
namespace {

using isobar::worker::v1::FunctionCall;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kId[] = "j57028t5cy4tqkff04hmasw9nd86rqvv";
constexpr double kNow = 1763769600000.0;

// Answers as the reference backend's stub did, and records every call.
class FakeBackend : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view op, absl::string_view args) override {
    calls.emplace_back(std::string(op), std::string(args));
    const std::string doc = absl::StrCat(R"({"_id":")", kId, R"(","_creationTime":1,"author":"ann","body":"hello!"})");
    if (op == "1.0/insert") return absl::StrCat(R"({"_id":")", kId, R"("})");
    if (op == "1.0/shallowMerge") return std::string("null");
    if (op == "1.0/get") return doc;
    if (op == "1.0/schedule" || op == "1.0/actions/schedule") return absl::StrCat("\"", kId, "\"");
    if (op == "1.0/queryStream") return std::string(R"({"queryId":3})");
    if (op == "1.0/queryStreamNext") return std::string(R"({"value":null,"done":true})");
    if (op == "1.0/queryCleanup") return std::string("false");
    if (op == "1.0/queryPage") return absl::StrCat(R"({"page":[)", doc, R"(],"isDone":false,"continueCursor":"c1"})");
    if (op == "1.0/getUserIdentity") return std::string("null");
    if (op == "1.0/actions/query") return std::string("[]");
    if (op == "1.0/actions/mutation") return absl::StrCat("\"", kId, "\"");
    if (op == "1.0/actions/vectorSearch") return std::string(R"({"results":[{"_id":"x","_score":0.5}]})");
    return absl::UnimplementedError(absl::StrCat("Unknown operation ", op));
  }
  std::vector<std::pair<std::string, std::string>> calls;
};

class ConvexAbiAppTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::vector<v1::Module>> modules = testing::ReadModuleBundle(testing::Runfile("tests/apps/abi.modules"));
    ASSERT_TRUE(modules.ok()) << modules.status();
    modules_ = new std::vector<v1::Module>(std::move(*modules));
  }

  InvocationResult Run(FunctionCall::Kind kind, const std::string& name, const std::string& args) {
    FunctionCall call;
    call.set_kind(kind);
    call.set_module_path("messages.js");
    call.set_export_name(name);
    call.set_args_json(args);
    call.set_request_id("req-1");
    for (const v1::Module& m : *modules_) *call.add_modules() = m;
    return evaluator_.Call(InvocationId(++next_), call, {7, kNow}, absl::Seconds(5));
  }

  static std::vector<v1::Module>* modules_;
  FakeBackend backend_;
  Watchdog watchdog_;
  Evaluator evaluator_{backend_, watchdog_, {}};
  uint64_t next_ = 0;
};

std::vector<v1::Module>* ConvexAbiAppTest::modules_ = nullptr;

TEST_F(ConvexAbiAppTest, SendMutationMakesTheReferenceSyscalls) {
  InvocationResult r = Run(FunctionCall::MUTATION, "send", R"([{"body":"hello","author":"ann"}])");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status() << r.stack;
  EXPECT_EQ(*r.result_json, absl::StrCat("\"", kId, "\""));
  EXPECT_THAT(
      backend_.calls,
      ElementsAre(
          Pair("1.0/insert", R"({"table":"messages","value":{"author":"ann","body":"hello","n":{"$integer":"BQAAAAAAAAA="}}})"),
          Pair("1.0/shallowMerge", absl::StrCat(R"({"id":")", kId, R"(","value":{"body":"hello!","tags":{"$undefined":null}}})")),
          Pair("1.0/get", absl::StrCat(R"({"id":")", kId, R"(","isSystem":false,"version":"1.48.0"})")),
          // runAfter(1000): ts = (Date.now() + 1000) / 1000, with Date.now() frozen at the invocation's time.
          Pair("1.0/schedule", absl::StrCat(R"({"name":"messages:cleanup","ts":1763769601,"args":{"id":")", kId,
                                            R"("},"version":"1.48.0"})"))));
}

TEST_F(ConvexAbiAppTest, ConvexErrorDataAndAUserStack) {
  InvocationResult r = Run(FunctionCall::MUTATION, "send", R"([{"body":"","author":"ann"}])");
  EXPECT_TRUE(r.user_error);
  ASSERT_TRUE(r.convex_error_data.has_value());
  EXPECT_EQ(*r.convex_error_data, R"({"code":"EMPTY","field":"body"})");
  EXPECT_THAT(r.stack, HasSubstr("convex:/messages.js:"));
  EXPECT_THAT(r.stack, ::testing::Not(HasSubstr("isobar:")));
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(ConvexAbiAppTest, PaginationSearchAuthAndSystemTables) {
  InvocationResult r = Run(FunctionCall::QUERY, "page", R"([{"cursor":null}])");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  EXPECT_THAT(*r.result_json, HasSubstr(R"("continueCursor":"c1")"));
  ASSERT_TRUE(Run(FunctionCall::QUERY, "search", "[{}]").result_json.ok());
  ASSERT_TRUE(Run(FunctionCall::QUERY, "whoAmI", "[{}]").result_json.ok());
  ASSERT_TRUE(Run(FunctionCall::QUERY, "scheduled", "[{}]").result_json.ok());
  ASSERT_GE(backend_.calls.size(), 3u);
  EXPECT_THAT(backend_.calls[0],
              Pair("1.0/queryPage",
                   R"({"query":{"source":{"type":"FullTableScan","tableName":"messages","order":"asc"},"operators":[]},"cursor":null,"endCursor":null,"pageSize":1,"maximumRowsRead":null,"version":"1.48.0"})"));
  EXPECT_THAT(backend_.calls[1],
              Pair("1.0/queryStream",
                   R"({"query":{"source":{"type":"Search","indexName":"messages.search_body","filters":[{"type":"Search","fieldPath":"body","value":"hel"},{"type":"Eq","fieldPath":"author","value":"ann"}]},"operators":[{"limit":5}]},"version":"1.48.0"})"));
  bool identity = false;
  bool system = false;
  for (const auto& [op, args] : backend_.calls) {
    if (op == "1.0/getUserIdentity") identity = true;
    if (op == "1.0/queryStream" && args.find(R"("tableName":"_scheduled_functions")") != std::string::npos) system = true;
  }
  EXPECT_TRUE(identity);
  EXPECT_TRUE(system);
}

TEST_F(ConvexAbiAppTest, ActionCallsAsTheReferenceRunDid) {
  InvocationResult r = Run(FunctionCall::ACTION, "act", R"([{"body":"from action"}])");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status() << r.stack;
  EXPECT_EQ(*r.result_json, R"({"before":0,"similar":1})");
  ASSERT_EQ(backend_.calls.size(), 4u);
  EXPECT_THAT(backend_.calls[0], Pair("1.0/actions/query", R"({"name":"messages:list","args":{},"version":"1.48.0","requestId":"req-1"})"));
  EXPECT_EQ(backend_.calls[1].first, "1.0/actions/mutation");
  EXPECT_THAT(backend_.calls[1].second, HasSubstr(R"("name":"messages:send")"));
  EXPECT_THAT(backend_.calls[2],
              Pair("1.0/actions/vectorSearch",
                   R"({"requestId":"req-1","version":"1.48.0","query":{"indexName":"messages.by_embedding","limit":2,"vector":[0.1,0.2,0.3],"expressions":{"$eq":[{"$field":"author"},{"$literal":"ann"}]}}})"));
  // Actions see real time (the reference stub froze it at 0): ts is now, in seconds.
  EXPECT_EQ(backend_.calls[3].first, "1.0/actions/schedule");
  EXPECT_THAT(backend_.calls[3].second, ::testing::StartsWith(R"({"requestId":"req-1","name":"messages:list","ts":)"));
  EXPECT_THAT(backend_.calls[3].second, ::testing::EndsWith(R"(,"args":{},"version":"1.48.0"})"));
  const double ts = std::stod(backend_.calls[3].second.substr(backend_.calls[3].second.find("\"ts\":") + 5));
  EXPECT_GT(ts, kNow / 1000);
}

TEST_F(ConvexAbiAppTest, AnalyzeDescribesFunctionsSchemaCronsAndRoutes) {
  v1::Invoke invoke;
  invoke.set_invocation_id(1);
  invoke.set_deployment("app");
  invoke.set_unix_time_ms(kNow);
  for (const v1::Module& m : *modules_) *invoke.mutable_analyze()->add_modules() = m;
  InvocationResult r = evaluator_.Run(invoke);
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status() << r.stack;
  const std::string& json = *r.result_json;
  EXPECT_THAT(json, HasSubstr(
      R"({"path":"messages:send","module":"messages.js","name":"send","kind":"mutation","visibility":"public","args":{"type":"object","value":{"body":{"fieldType":{"type":"string"},"optional":false},"author":{"fieldType":{"type":"string"},"optional":false}}},"returns":{"type":"id","tableName":"messages"}})"));
  EXPECT_THAT(json, HasSubstr(R"({"path":"messages:cleanup","module":"messages.js","name":"cleanup","kind":"mutation","visibility":"internal")"));
  EXPECT_THAT(json, HasSubstr(R"("name":"act","kind":"action","visibility":"public")"));
  EXPECT_THAT(json, HasSubstr(R"("name":"list","kind":"query","visibility":"public","args":{"type":"object","value":{}},"returns":null)"));
  // Crons exactly as §9.3 observed them.
  EXPECT_THAT(json, HasSubstr(
      R"("crons":{"clear":{"name":"messages:cleanup","args":[{"id":"x"}],"schedule":{"minutes":5,"type":"interval"}},"daily":{"name":"messages:countThem","args":[{}],"schedule":{"hourUTC":3,"minuteUTC":15,"type":"daily"}},"raw":{"name":"messages:countThem","args":[{}],"schedule":{"cron":"0 * * * *","type":"cron"}}})"));
  EXPECT_THAT(json, HasSubstr(R"("httpRoutes":[{"path":"/hello","method":"POST"},{"path":"/files/*","method":"GET"}])"));
  EXPECT_THAT(json, HasSubstr(R"("tableName":"messages","indexes":[{"indexDescriptor":"by_author","fields":["author"]}])"));
  EXPECT_THAT(json, HasSubstr(R"("vectorIndexes":[{"indexDescriptor":"by_embedding","vectorField":"embedding","dimensions":3,"filterFields":["author"]}])"));
  EXPECT_THAT(json, HasSubstr(R"("schemaValidation":true)"));
  // Nothing touched the database while importing.
  EXPECT_TRUE(backend_.calls.empty());
}

}  // namespace
}  // namespace isobar::worker
