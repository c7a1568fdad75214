// Functions.Subscribe end to end (CONVEX_SEMANTICS.md §3) on tests/apps/tasks: transitions evaluate
// a query set at one timestamp, carry only what changed, follow commits that overlap what the queries
// read, and fan out to many subscribers of one query.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using isobar::v1::SubscribeRequest;
using isobar::v1::Transition;
using ::testing::HasSubstr;

constexpr char kIdentity[] = R"({"tokenIdentifier":"https://auth|ann","subject":"ann","issuer":"https://auth"})";

// A client's view of its query set: values by query id, updated transition by transition.
class Subscriber {
 public:
  Subscriber(const std::shared_ptr<grpc::Channel>& channel, const std::string& key) {
    stub_ = isobar::v1::Functions::NewStub(channel);
    context_.AddMetadata("authorization", absl::StrCat("Bearer ", key));
    // A stream that stops delivering fails the test in minutes, saying where it stood, rather than
    // hang until Bazel's timeout (it did once, under four parallel test binaries).
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(4));
    stream_ = stub_->Subscribe(&context_);
  }
  ~Subscriber() {
    stream_->WritesDone();
    context_.TryCancel();
    stream_->Finish().ok();  // cancelled: its status does not matter here
  }

  void Add(uint32_t id, const std::string& path, const std::string& args = "{}") {
    SubscribeRequest request;
    request.set_deployment("tasks");
    auto* add = request.add_changes()->mutable_add();
    add->set_query_id(id);
    add->set_path(path);
    add->set_args_json(args);
    ASSERT_TRUE(stream_->Write(request));
  }
  void Remove(uint32_t id) {
    SubscribeRequest request;
    request.add_changes()->set_remove(id);
    ASSERT_TRUE(stream_->Write(request));
  }
  void SetIdentity(const std::string& identity) {
    SubscribeRequest request;
    request.set_set_identity(true);
    request.set_identity_json(identity);
    ASSERT_TRUE(stream_->Write(request));
  }

  // The next transition, applied to the view; false when the stream ended.
  bool Next(Transition* out = nullptr) {
    Transition transition;
    if (!stream_->Read(&transition)) return false;
    EXPECT_GE(transition.end_version().ts(), transition.start_version().ts());
    EXPECT_EQ(transition.start_version().ts(), last_ts_) << "transitions chain from one version to the next";
    last_ts_ = transition.end_version().ts();
    for (const auto& m : transition.modifications()) {
      if (m.has_updated()) values_[m.query_id()] = m.updated().value_json();
      if (m.has_failed()) values_[m.query_id()] = "error: " + m.failed().error().message();
      if (m.removed()) values_.erase(m.query_id());
    }
    if (out != nullptr) *out = std::move(transition);
    return true;
  }
  const std::map<uint32_t, std::string>& values() const { return values_; }

 private:
  std::unique_ptr<isobar::v1::Functions::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<SubscribeRequest, Transition>> stream_;
  std::map<uint32_t, std::string> values_;
  int64_t last_ts_ = 0;
};

class SubscriptionsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 2, .enable_eval = false});
    ASSERT_TRUE(supervisor_->Start().ok());
    absl::StatusOr<std::string> key = supervisor_->Deploy("tasks", "tests/apps/tasks.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = new std::string(*key);
    channel_ = new std::shared_ptr<grpc::Channel>(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  }
  static void TearDownTestSuite() {
    delete channel_;
    delete supervisor_;
    delete key_;
  }

  static grpc::Status Mutate(const std::string& path, const std::string& args) {
    auto stub = isobar::v1::Functions::NewStub(*channel_);
    return CallFunction(*stub, CallKind::kMutation, {.deployment = "tasks", .key = *key_, .path = path, .args_json = args})
        .status;
  }

  static SupervisorProcess* supervisor_;
  static std::string* key_;
  static std::shared_ptr<grpc::Channel>* channel_;
};

SupervisorProcess* SubscriptionsTest::supervisor_ = nullptr;
std::string* SubscriptionsTest::key_ = nullptr;
std::shared_ptr<grpc::Channel>* SubscriptionsTest::channel_ = nullptr;

TEST_F(SubscriptionsTest, TransitionsCarryWhatChangedAndFollowCommits) {
  ASSERT_TRUE(Mutate("ledger:open", R"({"total":100})").ok());
  Subscriber s(*channel_, *key_);
  s.Add(1, "ledger:leftTotal");
  s.Add(2, "jobs:steps", R"({"label":"watched"})");
  Transition t;
  while (s.values().size() < 2) ASSERT_TRUE(s.Next(&t));  // the two adds may come in one transition or two
  EXPECT_EQ(t.end_version().query_set(), 2u);
  EXPECT_EQ(s.values().at(1), "100");
  EXPECT_EQ(s.values().at(2), "[]");
  // A commit into what query 1 read: only query 1 is sent.
  ASSERT_TRUE(Mutate("ledger:transfer", R"({"n":10})").ok());
  ASSERT_TRUE(s.Next(&t));
  ASSERT_EQ(t.modifications_size(), 1);
  EXPECT_EQ(t.modifications(0).query_id(), 1u);
  EXPECT_EQ(s.values().at(1), "90");
  // Removing a query says so.
  s.Remove(2);
  ASSERT_TRUE(s.Next(&t));
  ASSERT_EQ(t.modifications_size(), 1);
  EXPECT_TRUE(t.modifications(0).removed());
  EXPECT_EQ(t.end_version().query_set(), 3u);
  EXPECT_EQ(s.values().count(2), 0u);
}

TEST_F(SubscriptionsTest, ANewIdentityRerunsEverythingAndFailuresAreSentToo) {
  {
    // Acting as a user is the admin key's alone.
    Subscriber posing(*channel_, *key_);
    posing.Add(1, "ledger:whoAmI");
    ASSERT_TRUE(posing.Next());
    posing.SetIdentity(kIdentity);
    EXPECT_FALSE(posing.Next());
  }
  Subscriber s(*channel_, supervisor_->admin_key());
  s.Add(1, "ledger:whoAmI");
  ASSERT_TRUE(s.Next());
  EXPECT_EQ(s.values().at(1), "null");
  s.SetIdentity(kIdentity);
  Transition t;
  ASSERT_TRUE(s.Next(&t));
  EXPECT_EQ(t.end_version().identity(), 1u);
  EXPECT_EQ(s.values().at(1), R"("ann")");
  s.Add(2, "ledger:fails");
  ASSERT_TRUE(s.Next());
  EXPECT_THAT(s.values().at(2), HasSubstr("left has"));
}

TEST_F(SubscriptionsTest, AQuerySetOverTwoTablesNeverShowsAStateNoSerialOrderProduces) {
  ASSERT_TRUE(Mutate("ledger:open", R"({"total":1000})").ok());
  Subscriber s(*channel_, *key_);
  s.Add(1, "ledger:leftTotal");
  s.Add(2, "ledger:rightTotal");
  while (s.values().size() < 2) ASSERT_TRUE(s.Next());
  // Transfers from several clients at once, while the subscriber reads transitions. Once they are all
  // done, one more (of nothing) commits, so a transition after the last one is sure to come.
  std::atomic<int> transfers{0};
  std::atomic<double> moved{0};
  std::atomic<bool> done{false};
  std::thread writers([&] {
    std::vector<std::thread> each;
    for (int w = 0; w < 4; ++w) {
      each.emplace_back([&, w] {
        for (int i = 0; i < 40; ++i) {
          const int n = (w % 2 == 0 ? 1 : -1) * (i % 7 + 1);
          // Four writers on two documents conflict a lot: like a real client, retry what the
          // server says may succeed on retry (OCC conflicts beyond its own retries).
          grpc::Status status;
          for (int attempt = 0; attempt < 20; ++attempt) {
            status = Mutate("ledger:transfer", absl::StrCat(R"({"n":)", n, "}"));
            if (status.error_code() != grpc::StatusCode::ABORTED) break;
          }
          EXPECT_TRUE(status.ok()) << status.error_message();
          if (status.ok()) {
            ++transfers;
            for (double m = moved.load(); !moved.compare_exchange_weak(m, m + n);) {
            }
          }
        }
      });
    }
    for (std::thread& t : each) t.join();
    done = true;
    EXPECT_TRUE(Mutate("ledger:transfer", R"({"n":0})").ok());
  });
  int transitions = 0;
  for (;;) {
    Transition t;
    if (!s.Next(&t)) {
      ADD_FAILURE() << "the stream ended after " << transitions << " transitions; writers done: " << done.load()
                    << ", transfers " << transfers.load() << ", moved " << moved.load() << ", last values "
                    << s.values().at(1) << " / " << s.values().at(2);
      break;
    }
    ++transitions;
    const double left = std::stod(s.values().at(1)), right = std::stod(s.values().at(2));
    EXPECT_EQ(left + right, 1000) << "at ts " << t.end_version().ts() << ": " << left << " + " << right;
    if (done && left == 1000 - moved.load()) break;
  }
  writers.join();
  EXPECT_EQ(transfers.load(), 160);
  EXPECT_GT(transitions, 1);
  std::printf("%d transitions seen for %d transfers\n", transitions, transfers.load());
}

TEST_F(SubscriptionsTest, AThousandSubscribersOfOneQueryAllSeeTheCommit) {
  ASSERT_TRUE(Mutate("ledger:open", R"({"total":5})").ok());
  constexpr int kSubscribers = 1000;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int c = 0; c < 4; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", c);  // separate connections
    channels.push_back(grpc::CreateCustomChannel(supervisor_->address(), grpc::InsecureChannelCredentials(), args));
  }
  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(std::make_unique<Subscriber>(channels[i % channels.size()], *key_));
    subscribers.back()->Add(1, "ledger:leftTotal");
  }
  for (auto& s : subscribers) {
    ASSERT_TRUE(s->Next());
    ASSERT_EQ(s->values().at(1), "5");
  }
  ASSERT_TRUE(Mutate("ledger:transfer", R"({"n":2})").ok());
  for (auto& s : subscribers) {
    ASSERT_TRUE(s->Next());
    ASSERT_EQ(s->values().at(1), "3");
  }
}

TEST_F(SubscriptionsTest, ASubscriberThatDoesNotReadGetsCoalescedTransitions) {
  ASSERT_TRUE(Mutate("ledger:open", R"({"total":1000})").ok());
  Subscriber s(*channel_, *key_);
  s.Add(1, "ledger:bigLeft", R"({"kilobytes":1024})");
  ASSERT_TRUE(s.Next());
  // 60 commits while the client reads nothing: 1 MiB transitions fill the stream's flow-control
  // window at once, at most two more wait in the server, and the rest are coalesced.
  constexpr int kCommits = 60;
  for (int i = 0; i < kCommits; ++i) ASSERT_TRUE(Mutate("ledger:transfer", R"({"n":1})").ok());
  int transitions = 0;
  for (;;) {
    ASSERT_TRUE(s.Next());
    ++transitions;
    if (s.values().at(1).find(absl::StrCat(R"("total":)", 1000 - kCommits)) != std::string::npos) break;
  }
  EXPECT_LT(transitions, 20) << "one transition per commit would be " << kCommits;
  std::printf("%d commits reached a slow subscriber in %d transitions\n", kCommits, transitions);
}

TEST_F(SubscriptionsTest, AMissingFunctionFailsWithoutRetryingUntilAPushBringsIt) {
  Subscriber s(*channel_, *key_);
  s.Add(1, "later:added");
  ASSERT_TRUE(s.Next());
  EXPECT_THAT(s.values().at(1), HasSubstr("Could not find public function for 'later:added'"));
  // Its result holds until the code changes: it is not run again meanwhile.
  absl::StatusOr<isobar::v1::StatsResponse> before = supervisor_->Stats();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(Mutate("ledger:open", R"({"total":7})").ok());
  absl::StatusOr<isobar::v1::StatsResponse> after = supervisor_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_LE(after->functions().invocations() - before->functions().invocations(), 2u);
  // A push that adds it: every query of the deployment runs again.
  absl::StatusOr<isobar::v1::PushRequest> push = SupervisorProcess::BundlePush("tasks", "tests/apps/tasks.modules");
  ASSERT_TRUE(push.ok()) << push.status();
  isobar::v1::PushModule* later = push->add_modules();
  later->set_path("later.js");
  later->set_source(R"(export const added = { isQuery: true, isPublic: true, invokeQuery: async () => JSON.stringify("here") };)");
  auto deployments = isobar::v1::Deployments::NewStub(*channel_);
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::PushResponse pushed;
  grpc::Status status = deployments->Push(&context, *push, &pushed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(s.Next());
  EXPECT_EQ(s.values().at(1), R"("here")");
}

TEST_F(SubscriptionsTest, BadQuerySetsEndTheStream) {
  Subscriber s(*channel_, *key_);
  s.Add(1, "ledger:leftTotal");
  ASSERT_TRUE(s.Next());
  s.Add(1, "ledger:rightTotal");
  EXPECT_FALSE(s.Next());
  Subscriber wrong_key(*channel_, "isobar_0000");
  wrong_key.Add(1, "ledger:leftTotal");
  EXPECT_FALSE(wrong_key.Next());
}

}  // namespace
}  // namespace isobar::testing
