// Reads made ahead of a function (supervisor/runner/prefetch.h), end to end on a real supervisor,
// PostgreSQL and sandboxed workers: a function's db.get of an id its arguments name is answered in
// the worker, with no host call, and it is still the function's own read — the query cache hears
// when the document changes, two mutations that read what the other writes conflict — and a
// mutation's own write is what its next get sees.
#include <map>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

class PrefetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    supervisor_ = std::make_unique<SupervisorProcess>(
        SupervisorOptions{.workers = 2, .enable_eval = false, .extra_args = {"--trace-stages=true"}});
    ASSERT_TRUE(supervisor_->Start().ok()) << supervisor_->log();
    absl::StatusOr<std::string> key = supervisor_->Deploy("pf", "tests/apps/prefetch.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
    stub_ = isobar::v1::Functions::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  }

  // The call's result as JSON, or "error: ...".
  std::string Call(CallKind kind, const std::string& path, const std::string& args) {
    FunctionResult result = CallFunction(*stub_, kind, {.deployment = "pf", .key = key_, .path = path, .args_json = args});
    if (!result.status.ok()) return absl::StrCat("error: ", result.status.error_message());
    return result.response.result_json();
  }
  // A new document with `n`; its id.
  std::string Make(int n) {
    const std::string id = Call(CallKind::kMutation, "docs:make", absl::StrCat(R"({"n":)", n, "}"));
    EXPECT_EQ(id.front(), '"') << id;
    return id.substr(1, id.size() - 2);
  }
  // The document's n, or -1.
  int N(const std::string& id) {
    absl::StatusOr<storage::Value> doc =
        storage::ParseConvexJson(Call(CallKind::kQuery, "docs:read", absl::StrCat(R"({"id":")", id, R"("})")));
    if (!doc.ok() || doc->type() != storage::Value::Type::kObject) return -1;
    const storage::Value n = doc->Get("n");
    return n.type() == storage::Value::Type::kFloat64 ? static_cast<int>(n.float64()) : -1;
  }
  std::map<std::string, isobar::v1::StageTiming> Stages(const std::string& label) {
    std::map<std::string, isobar::v1::StageTiming> out;
    absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    if (!stats.ok()) return out;
    for (const isobar::v1::StageTiming& t : stats->stage_timings()) {
      if (t.label() == label) out[t.stage()] = t;
    }
    return out;
  }

  std::unique_ptr<SupervisorProcess> supervisor_;
  std::string key_;
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
};

TEST_F(PrefetchTest, AGetOfAnArgumentsIdNeedsNoHostCallAndIsStillTheQuerysRead) {
  const std::string id = Make(1);
  EXPECT_EQ(N(id), 1);
  // The query's only read was answered in the worker: no host call was served for it.
  std::map<std::string, isobar::v1::StageTiming> query = Stages("query/fresh");
  ASSERT_EQ(query.count("total"), 1u);
  EXPECT_EQ(query["total"].count(), 1u);
  EXPECT_EQ(query.count("host_serve"), 0u) << query["host_serve"].DebugString();
  // Cached now; a write to the document it read must make that result stale.
  EXPECT_EQ(N(id), 1);
  EXPECT_EQ(Call(CallKind::kMutation, "docs:set", absl::StrCat(R"({"id":")", id, R"(","n":2})")), "null");
  EXPECT_EQ(N(id), 2);
  // An argument that is no id fails the function's validator, as before.
  EXPECT_THAT(Call(CallKind::kQuery, "docs:read", R"({"id":"not-an-id-of-this-deployment-at-all"})"),
              HasSubstr("error: "));
  // A function that ignores the document still works (its read ahead is not its read).
  EXPECT_EQ(Call(CallKind::kQuery, "docs:ignore", absl::StrCat(R"({"id":")", id, R"(","k":7})")), "7");
}

TEST_F(PrefetchTest, AMutationsOwnWriteIsWhatItsNextGetSees) {
  const std::string id = Make(1);
  EXPECT_EQ(Call(CallKind::kMutation, "docs:bump", absl::StrCat(R"({"id":")", id, R"("})")), "[1,2]");
  EXPECT_EQ(Call(CallKind::kMutation, "docs:bump", absl::StrCat(R"({"id":")", id, R"("})")), "[2,3]");
  EXPECT_EQ(N(id), 3);
}

// copySlowly(a -> b) and copySlowly(b -> a) at once: each reads one document (answered in the worker)
// and writes the other. Unless those reads are the mutations' own, neither conflicts with the other
// and they swap the values (write skew); serializably, both end equal. Each round starts them
// together; the rounds must include one where they overlapped (a conflict was counted).
TEST_F(PrefetchTest, ReadsAheadAreTheMutationsOwnForConflicts) {
  const std::string a = Make(1), b = Make(2);
  uint64_t conflicts_before = 0;
  bool overlapped = false;
  for (int round = 0; round < 5 && !overlapped; ++round) {
    ASSERT_EQ(Call(CallKind::kMutation, "docs:set", absl::StrCat(R"({"id":")", a, R"(","n":1})")), "null");
    ASSERT_EQ(Call(CallKind::kMutation, "docs:set", absl::StrCat(R"({"id":")", b, R"(","n":2})")), "null");
    std::string one, two;
    std::thread first([&] {
      one = Call(CallKind::kMutation, "docs:copySlowly",
                 absl::StrCat(R"({"from":")", a, R"(","to":")", b, R"(","iterations":60000000})"));
    });
    two = Call(CallKind::kMutation, "docs:copySlowly",
               absl::StrCat(R"({"from":")", b, R"(","to":")", a, R"(","iterations":60000000})"));
    first.join();
    ASSERT_THAT(one, ::testing::Not(HasSubstr("error"))) << one;
    ASSERT_THAT(two, ::testing::Not(HasSubstr("error"))) << two;
    const int na = N(a), nb = N(b);
    EXPECT_EQ(na, nb) << "round " << round << ": write skew";
    absl::StatusOr<isobar::v1::StatsResponse> stats = supervisor_->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status();
    overlapped = stats->functions().occ_conflicts() > conflicts_before;
    conflicts_before = stats->functions().occ_conflicts();
  }
  EXPECT_TRUE(overlapped) << "the two mutations never overlapped in 5 rounds";
}

}  // namespace
}  // namespace isobar::testing
