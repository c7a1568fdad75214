// tests/apps/board as a new user meets it: a first screen subscribed before anyone has posted, clients
// that all "create the settings row if there is none" at once, paging by _id, a cron from the first
// push, and strings that are not valid Unicode. Each case failed before its fix (issue 14).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/live_queries.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kSoon = absl::Seconds(15);

class BoardTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 2, .enable_eval = false});
    ASSERT_TRUE(supervisor_->Start().ok());
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    stub_ = isobar::v1::Functions::NewStub(*channel_).release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete channel_;
    delete supervisor_;
  }

  // A new deployment of the board app; its API key.
  static std::string NewBoard(const std::string& name) {
    absl::StatusOr<std::string> key = supervisor_->Deploy(name, "tests/apps/board.modules");
    EXPECT_TRUE(key.ok()) << key.status();
    return key.value_or("");
  }
  static FunctionResult Call(CallKind kind, const std::string& deployment, const std::string& key, const std::string& path,
                             const std::string& args = "{}") {
    return CallFunction(*stub_, kind, {.deployment = deployment, .key = key, .path = path, .args_json = args});
  }
  static std::string Value(const FunctionResult& r) {
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return r.response.result_json();
  }

  static SupervisorProcess* supervisor_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static isobar::v1::Functions::Stub* stub_;
};

SupervisorProcess* BoardTest::supervisor_ = nullptr;
std::shared_ptr<grpc::Channel>* BoardTest::channel_ = nullptr;
isobar::v1::Functions::Stub* BoardTest::stub_ = nullptr;

// The list was empty because the table did not exist yet; the first post must reach the cached result
// and every subscriber (it stayed [] for good when a missing table's absence was not part of the read set).
TEST_F(BoardTest, TheFirstScreenUpdatesWithTheFirstPost) {
  const std::string key = NewBoard("first-screen");
  EXPECT_EQ(Value(Call(CallKind::kQuery, "first-screen", key, "messages:list")), "[]");
  EXPECT_EQ(Value(Call(CallKind::kQuery, "first-screen", key, "messages:list")), "[]");  // now from the cache
  LiveQueries live(*channel_, key, "first-screen");
  ASSERT_TRUE(live.Add(1, "messages:list"));
  ASSERT_TRUE(live.Add(2, "messages:latest"));
  ASSERT_TRUE(live.Add(3, "messages:all"));
  ASSERT_TRUE(live.WaitFor([](const LiveQueries::Values& v) { return v.size() == 3; }, kSoon));
  EXPECT_EQ(live.values().at(2), "null");

  ASSERT_TRUE(Call(CallKind::kMutation, "first-screen", key, "messages:send", R"({"author":"ann","body":"hello"})").status.ok());
  EXPECT_THAT(Value(Call(CallKind::kQuery, "first-screen", key, "messages:list")), HasSubstr(R"("body":"hello")"));
  EXPECT_TRUE(live.WaitFor(
      [](const LiveQueries::Values& v) {
        return v.at(1).find("hello") != std::string::npos && v.at(2).find("hello") != std::string::npos &&
               v.at(3) == R"(["hello"])";
      },
      kSoon))
      << "subscribers still see: " << live.values().at(1) << " / " << live.values().at(2) << " / " << live.values().at(3);
  // A new subscriber of the same query gets the new value too.
  LiveQueries later(*channel_, key, "first-screen");
  ASSERT_TRUE(later.Add(7, "messages:list"));
  EXPECT_TRUE(later.WaitFor([](const LiveQueries::Values& v) { return v.count(7) && v.at(7) != "[]"; }, kSoon));
  EXPECT_EQ(live.problems(), "");
}

// Eight clients start at once and each ensures the settings row: exactly one row, every time, though
// the table did not exist when they looked.
TEST_F(BoardTest, ConcurrentEnsureOnANewTableInsertsOnce) {
  for (int round = 0; round < 3; ++round) {
    const std::string name = absl::StrCat("ensure-", round);
    const std::string key = NewBoard(name);
    std::vector<std::thread> clients;
    std::vector<std::string> ids(8);
    for (int i = 0; i < 8; ++i) {
      clients.emplace_back([&, i] { ids[static_cast<size_t>(i)] = Value(Call(CallKind::kMutation, name, key, "settings:ensure")); });
    }
    for (std::thread& t : clients) t.join();
    const std::string all = Value(Call(CallKind::kQuery, name, key, "settings:all"));
    size_t rows = 0;
    for (size_t at = all.find("\"_id\""); at != std::string::npos; at = all.find("\"_id\"", at + 1)) ++rows;
    EXPECT_EQ(rows, 1u) << "round " << round << ": " << all;
    for (const std::string& id : ids) EXPECT_EQ(id, ids[0]) << "every client got the one row";
  }
}

// withIndex("by_id") reads by_id, which has no index entries of its own (it returned [] before).
TEST_F(BoardTest, PagingByIdWalksTheWholeTableInIdOrder) {
  const std::string key = NewBoard("by-id");
  constexpr int kBatches = 5, kPerBatch = 2000;
  for (int b = 0; b < kBatches; ++b) {
    ASSERT_TRUE(Call(CallKind::kMutation, "by-id", key, "messages:sendMany",
                     absl::StrCat(R"({"author":"bulk)", b, R"(","count":)", kPerBatch, "}"))
                    .status.ok());
  }
  std::vector<std::string> ids;
  std::string from;
  for (;;) {
    const std::string args = from.empty() ? R"({"take":1000})" : absl::StrCat(R"({"take":1000,"from":")", from, R"("})");
    const std::string page = Value(Call(CallKind::kQuery, "by-id", key, "messages:byId", args));
    size_t found = 0;
    for (size_t at = page.find(R"("_id":")"); at != std::string::npos; at = page.find(R"("_id":")", at + 1)) {
      const size_t start = at + 7;
      ids.push_back(page.substr(start, page.find('"', start) - start));
      ++found;
    }
    if (found == 0) break;
    from = ids.back();
  }
  ASSERT_EQ(ids.size(), static_cast<size_t>(kBatches * kPerBatch));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end()) << "no id twice";
}

// The cron of the very first push runs without a restart, and nothing says it cannot.
TEST_F(BoardTest, CronsOfTheFirstPushRun) {
  const std::string key = NewBoard("crons-first");
  LiveQueries live(*channel_, key, "crons-first");
  ASSERT_TRUE(live.Add(1, "ticks:count"));
  EXPECT_TRUE(live.WaitFor([](const LiveQueries::Values& v) { return v.count(1) && v.at(1) != "0"; }, kSoon))
      << "the cron never ran";
  EXPECT_THAT(supervisor_->log(), Not(HasSubstr("cannot run")));
}

// Lone UTF-16 surrogates, in every way a function can hand one to the runtime, as Convex treats them:
// log lines and error messages get U+FFFD; a return value, a document or an argument that cannot be
// JSON is refused with a clear error. The worker survives all of it, and another deployment on the
// same workers is served throughout.
// A tenant cannot reach a host call that exists for tests: isobar/echo answers only Admin.Eval
// (itself off unless --enable-eval), never a deployed function.
TEST_F(BoardTest, TestOnlyHostCallsAreNotReachableFromFunctions) {
  const std::string key = NewBoard("test-doors");
  EXPECT_EQ(Value(Call(CallKind::kMutation, "test-doors", key, "hostile:testDoors")),
            R"([["refused","Unknown operation isobar/echo"],["refused","Unknown async operation isobar/echo"]])");
}

TEST_F(BoardTest, LoneSurrogatesNeverKillAWorker) {
  const std::string key = NewBoard("hostile");
  const std::string other_key = NewBoard("bystander");
  absl::StatusOr<isobar::v1::StatsResponse> before = supervisor_->Stats();
  ASSERT_TRUE(before.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::thread bystander([&] {
    while (!stop) {
      FunctionResult r = Call(CallKind::kQuery, "bystander", other_key, "messages:list");
      ++(r.status.ok() ? served : failed);
    }
  });
  const std::string fffd = "\xEF\xBF\xBD";

  FunctionResult logged = Call(CallKind::kQuery, "hostile", key, "hostile:log");
  EXPECT_EQ(Value(logged), R"("logged")");
  ASSERT_EQ(logged.response.log_lines_size(), 15);
  EXPECT_EQ(logged.response.log_lines(0).message(), "'" + fffd + "'");  // strings are quoted, as Convex logs them
  EXPECT_THAT(logged.response.log_lines(1).message(), HasSubstr("'error:' '" + fffd));
  EXPECT_THAT(logged.response.log_lines(12).message(), HasSubstr("ok \xF0\x9F\x8E\x89 pair")) << "a pair stays";
  FunctionResult from_action = Call(CallKind::kAction, "hostile", key, "hostile:logFromAction");
  EXPECT_EQ(Value(from_action), R"("logged")");
  EXPECT_EQ(from_action.response.log_lines(2).message(), "'a" + fffd + "b'");

  for (int which = 0; which < 4; ++which) {
    FunctionResult thrown = Call(CallKind::kQuery, "hostile", key, "hostile:throwError", absl::StrCat(R"({"which":)", which, "}"));
    EXPECT_EQ(thrown.detail.kind(), isobar::v1::ErrorDetail::USER_ERROR);
    EXPECT_THAT(thrown.detail.message(), HasSubstr(fffd));
    for (const char* wrap : {"true", "false"}) {
      FunctionResult data = Call(CallKind::kQuery, "hostile", key, "hostile:throwConvexError",
                                 absl::StrCat(R"({"which":)", which, R"(,"wrap":)", wrap, "}"));
      EXPECT_FALSE(data.status.ok());
      EXPECT_EQ(data.detail.kind(), isobar::v1::ErrorDetail::CONVEX_ERROR) << data.detail.DebugString();
    }
    FunctionResult returned = Call(CallKind::kQuery, "hostile", key, "hostile:returnLone", absl::StrCat(R"({"which":)", which, "}"));
    EXPECT_FALSE(returned.status.ok());
    EXPECT_THAT(returned.detail.message(), HasSubstr("Could not parse return value as json"));
    EXPECT_FALSE(returned.detail.retryable());
    FunctionResult inserted = Call(CallKind::kMutation, "hostile", key, "hostile:insertLone", absl::StrCat(R"({"which":)", which, "}"));
    EXPECT_FALSE(inserted.status.ok());
    EXPECT_THAT(inserted.detail.message(), HasSubstr("surrogate"));
  }
  FunctionResult named = Call(CallKind::kMutation, "hostile", key, "hostile:fieldNameLone");
  EXPECT_FALSE(named.status.ok());
  FunctionResult echoed = Call(CallKind::kQuery, "hostile", key, "hostile:echo", R"({"value":"\ud83c"})");
  EXPECT_EQ(echoed.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "arguments must be valid JSON text";
  EXPECT_EQ(Value(Call(CallKind::kQuery, "hostile", key, "hostile:echo", R"({"value":"\ud83c\udf89"})")),
            "\"\xF0\x9F\x8E\x89\"");

  stop = true;
  bystander.join();
  EXPECT_GT(served.load(), 0);
  EXPECT_EQ(failed.load(), 0) << "the other deployment was not served throughout";
  absl::StatusOr<isobar::v1::StatsResponse> after = supervisor_->Stats();
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->workers_size(), before->workers_size());
  for (int w = 0; w < after->workers_size(); ++w) {
    EXPECT_EQ(after->workers(w).starts(), before->workers(w).starts()) << "worker " << w << " was restarted";
    EXPECT_EQ(after->workers(w).crashes(), before->workers(w).crashes());
  }
  EXPECT_THAT(supervisor_->log(), Not(HasSubstr("not UTF-8")));
}

}  // namespace
}  // namespace isobar::testing
