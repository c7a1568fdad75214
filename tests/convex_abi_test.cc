// The Convex ABI on real V8 with real bundles: modules built by esbuild from the public convex npm
// package (unmodified, split into _deps/ chunks as the official CLI does), run against a fake host
// that records every syscall. Reproduces CONVEX_ABI.md §9.2 exactly.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/classic_bundle.h"
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
constexpr char kDoc[] =
    R"({"author":"ann","body":"hi","_id":"j57028t5cy4tqkff04hmasw9nd86rqvv","_creationTime":1763769600000.5})";

// Answers the syscalls of §9.2 as the reference backend did, and records them.
class FakeBackend : public HostCalls {
 public:
  absl::StatusOr<std::string> Call(InvocationId, absl::string_view op, absl::string_view args) override {
    calls.emplace_back(std::string(op), std::string(args));
    if (op == "1.0/insert") return absl::StrCat(R"({"_id":")", kId, R"("})");
    if (op == "1.0/queryStream") return std::string(R"({"queryId":0})");
    if (op == "1.0/queryStreamNext") {
      return ++stream_reads == 1 ? absl::StrCat(R"({"value":)", kDoc, R"(,"done":false})")
                                 : std::string(R"({"value":null,"done":true})");
    }
    if (op == "1.0/queryCleanup") return std::string("false");
    if (op == "1.0/get") return std::string("null");
    if (op == "isobar/env") return std::string(args == R"({"name":"GREETING"})" ? R"("hello")" : "null");
    return absl::UnimplementedError(absl::StrCat("Unknown operation ", op));
  }
  std::vector<std::pair<std::string, std::string>> calls;
  int stream_reads = 0;
};

class ConvexAbiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::vector<v1::Module>> modules = testing::ReadModuleBundle(testing::Runfile("tests/apps/mini.modules"));
    ASSERT_TRUE(modules.ok()) << modules.status();
    modules_ = new std::vector<v1::Module>(std::move(*modules));
  }

  InvocationResult Run(FunctionCall::Kind kind, const std::string& module, const std::string& name,
                       const std::string& args, InvocationEnvironment env = {7, 1763769600000.0}) {
    FunctionCall call;
    call.set_kind(kind);
    call.set_module_path(module);
    call.set_export_name(name);
    call.set_args_json(args);
    call.set_request_id("req-1");
    for (const v1::Module& m : *modules_) *call.add_modules() = m;
    return evaluator_.Call(InvocationId(++next_), call, env, absl::Seconds(5));
  }

  static std::vector<v1::Module>* modules_;
  FakeBackend backend_;
  Watchdog watchdog_;
  Evaluator evaluator_{backend_, watchdog_, {}};
  uint64_t next_ = 0;
};

std::vector<v1::Module>* ConvexAbiTest::modules_ = nullptr;

TEST_F(ConvexAbiTest, TheBundleLooksLikeTheOfficialClisOutput) {
  // The CLI's ES modules, and beside them the same code as one classic script for the worker's
  // snapshot of the version (base/classic_bundle.h).
  std::vector<std::string> paths;
  bool classic = false;
  for (const v1::Module& m : *modules_) {
    if (m.path() == kClassicBundlePath) {
      classic = true;
      EXPECT_THAT(m.source(), HasSubstr(absl::StrCat("globalThis.", kClassicModulesGlobal, " = {")));
    } else {
      paths.push_back(m.path());
    }
  }
  EXPECT_TRUE(classic);
  ASSERT_EQ(paths.size(), 4u);
  EXPECT_TRUE(absl::StartsWith(paths[0], "_deps/")) << paths[0];
  for (const v1::Module& m : *modules_) {
    if (m.path() == "mini.js") {
      EXPECT_THAT(m.source(), HasSubstr("from \"./_deps/"));
    }
  }
}

TEST_F(ConvexAbiTest, MutationInsertsAsTheReferenceRunDid) {
  InvocationResult r = Run(FunctionCall::MUTATION, "mini.js", "send_", R"([{"body":"hi","author":"ann"}])");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  EXPECT_EQ(*r.result_json, absl::StrCat("\"", kId, "\""));
  EXPECT_THAT(backend_.calls, ElementsAre(Pair("1.0/insert", R"({"table":"t","value":{"author":"ann","body":"hi"}})")));
}

TEST_F(ConvexAbiTest, QueryStreamsAsTheReferenceRunDid) {
  InvocationResult r = Run(FunctionCall::QUERY, "mini.js", "list_", "[{}]");
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  EXPECT_EQ(*r.result_json,
            R"([{"_creationTime":1763769600000.5,"_id":"j57028t5cy4tqkff04hmasw9nd86rqvv","author":"ann","body":"hi"}])");
  EXPECT_THAT(backend_.calls,
              ElementsAre(Pair("1.0/queryStream",
                               R"({"query":{"source":{"type":"FullTableScan","tableName":"t","order":null},"operators":[]},"version":"1.48.0"})"),
                          Pair("1.0/queryStreamNext", R"({"queryId":0})"), Pair("1.0/queryStreamNext", R"({"queryId":0})"),
                          Pair("1.0/queryCleanup", R"({"queryId":0})")));
}

TEST_F(ConvexAbiTest, ConvexErrorCarriesItsData) {
  InvocationResult r = Run(FunctionCall::QUERY, "other.js", "fails", "[{}]");
  EXPECT_EQ(r.result_json.status().code(), absl::StatusCode::kUnknown);
  EXPECT_TRUE(r.user_error);
  EXPECT_THAT(r.result_json.status().message(), HasSubstr(R"({"code":42,"why":"nope"})"));
  ASSERT_TRUE(r.convex_error_data.has_value());
  EXPECT_EQ(*r.convex_error_data, R"({"code":42,"why":"nope"})");
  EXPECT_EQ(*Run(FunctionCall::QUERY, "other.js", "plain", "[{}]").result_json, R"("plain")");
}

TEST_F(ConvexAbiTest, WrongKindsAndMissingThingsAreRefused) {
  InvocationResult r = Run(FunctionCall::QUERY, "mini.js", "send_", "[{}]");
  EXPECT_EQ(r.result_json.status().message(),
            "Function \"mini.js:send_\" is registered as a mutation but is being run as a query");
  r = Run(FunctionCall::QUERY, "behaviour.js", "notAFunction", "[{}]");
  EXPECT_THAT(r.result_json.status().message(), HasSubstr("Did you forget to wrap it with `query` or `mutation`?"));
  r = Run(FunctionCall::QUERY, "mini.js", "nothing_here", "[{}]");
  EXPECT_EQ(r.result_json.status().code(), absl::StatusCode::kNotFound);
  r = Run(FunctionCall::QUERY, "missing.js", "x", "[{}]");
  EXPECT_THAT(r.result_json.status().message(), HasSubstr("Module \"missing.js\" not found"));
  r = Run(FunctionCall::QUERY, (*modules_)[0].path(), "x", "[{}]");
  EXPECT_THAT(r.result_json.status().message(), HasSubstr("_deps/"));
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(ConvexAbiTest, ModuleBytesMustMatchTheirHash) {
  FunctionCall call;
  call.set_kind(FunctionCall::QUERY);
  call.set_module_path("other.js");
  call.set_export_name("plain");
  call.set_args_json("[{}]");
  for (const v1::Module& m : *modules_) {
    v1::Module* copy = call.add_modules();
    *copy = m;
    if (absl::StartsWith(m.path(), "_deps/")) copy->mutable_source()->append("\n// tampered");
  }
  InvocationResult r = evaluator_.Call(InvocationId(1), call, {}, absl::Seconds(5));
  EXPECT_EQ(r.result_json.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(r.user_error);
}

TEST_F(ConvexAbiTest, QueriesAreDeterministicActionsAreNot) {
  const std::string a = *Run(FunctionCall::QUERY, "behaviour.js", "randomAndTime", "[{}]", {7, 1763769600000.0}).result_json;
  const std::string b = *Run(FunctionCall::QUERY, "behaviour.js", "randomAndTime", "[{}]", {7, 1763769600000.0}).result_json;
  const std::string c = *Run(FunctionCall::QUERY, "behaviour.js", "randomAndTime", "[{}]", {8, 1763769600000.0}).result_json;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_THAT(a, HasSubstr(R"(1763769600000,1763769600000,"undefined",true,"undefined"])"));
  EXPECT_EQ(*Run(FunctionCall::QUERY, "behaviour.js", "envRead", "[{}]").result_json, R"("hello")");
  // As on Convex, the refusal cannot be caught: it is a rejection nobody handles.
  EXPECT_EQ(Run(FunctionCall::QUERY, "behaviour.js", "noTimers", "[{}]").result_json.status().message(),
            "Uncaught Error: Can't use setTimeout in queries and mutations. Please consider using an action. See "
            "https://docs.convex.dev/functions/actions for more details.");
  // Actions see real time.
  double now = std::stod(*Run(FunctionCall::ACTION, "behaviour.js", "actionTime", "[{}]").result_json);
  EXPECT_GT(now, 1763769600000.0 + 1000);
}

TEST_F(ConvexAbiTest, PromiseEdgeCases) {
  InvocationResult r = Run(FunctionCall::MUTATION, "behaviour.js", "unhandled", "[{}]");
  EXPECT_EQ(r.result_json.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(r.result_json.status().message(), HasSubstr("nobody caught me"));
  r = Run(FunctionCall::QUERY, "behaviour.js", "hangs", "[{}]");
  EXPECT_EQ(r.result_json.status().message(), "Returned promise will never resolve");
}

TEST_F(ConvexAbiTest, ConcurrentGetsTravelAsOneBatchInOrder) {
  std::string ids = "[";
  for (int i = 0; i < 20; ++i) absl::StrAppend(&ids, i ? "," : "", "\"", kId, "\"");
  InvocationResult r = Run(FunctionCall::QUERY, "behaviour.js", "manyGets", absl::StrCat(R"([{"ids":)", ids, "]}]"));
  ASSERT_TRUE(r.result_json.ok()) << r.result_json.status();
  ASSERT_EQ(backend_.calls.size(), 20u);
  for (const auto& [op, args] : backend_.calls) EXPECT_EQ(op, "1.0/get");
}

}  // namespace
}  // namespace isobar::worker
