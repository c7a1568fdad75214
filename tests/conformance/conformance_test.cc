// The conformance suite: every case of tests/conformance/cases/*.textproto (the format is
// proto/isobar/testing/conformance.proto) against a real supervisor, over the real gRPC API. A case
// states what Convex does and where that is documented or observed; a case marked `divergent` is a
// difference we know of, and must still differ. The summary by area is printed at the end.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/testing/conformance.pb.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/convex_json.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

constexpr char kCasesDir[] = "tests/conformance/cases";
constexpr char kDeployment[] = "conformance";
constexpr absl::Duration kEventually = absl::Seconds(20);

struct Loaded {
  std::string area;
  Case c;
};
struct LoadedPush {
  std::string area;
  PushCase p;
};

// Case files that did not parse (reported by the test CaseFilesParse).
std::vector<std::string>& ParseErrors() {
  static auto* errors = new std::vector<std::string>();
  return *errors;
}

// gtest prints a failing case by name, not as bytes.
void PrintTo(const Loaded& loaded, std::ostream* out) { *out << loaded.area << "/" << loaded.c.name(); }
void PrintTo(const LoadedPush& loaded, std::ostream* out) { *out << loaded.area << "/" << loaded.p.name(); }

std::vector<CaseFile> LoadFiles() {
  std::vector<CaseFile> files;
  const std::string dir = Runfile(kCasesDir);
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return files;
  std::vector<std::string> names;
  while (dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    if (name.size() > 10 && name.substr(name.size() - 10) == ".textproto") names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::ifstream in(dir + "/" + name);
    std::stringstream text;
    text << in.rdbuf();
    CaseFile file;
    if (!google::protobuf::TextFormat::ParseFromString(text.str(), &file)) {
      ParseErrors().push_back(name);  // protobuf has printed where
      continue;
    }
    files.push_back(std::move(file));
  }
  return files;
}

const std::vector<CaseFile>& Files() {
  static const auto* files = new std::vector<CaseFile>(LoadFiles());
  return *files;
}

std::vector<Loaded> CallCases() {
  std::vector<Loaded> out;
  for (const CaseFile& file : Files()) {
    for (const Case& c : file.cases()) out.push_back({file.area(), c});
  }
  return out;
}

std::vector<LoadedPush> PushCases() {
  std::vector<LoadedPush> out;
  for (const CaseFile& file : Files()) {
    for (const PushCase& p : file.pushes()) out.push_back({file.area(), p});
  }
  return out;
}

// Tallies by area, printed when the suite ends.
struct Tally {
  int cases = 0;
  int match = 0;
  int divergent = 0;  // known and still different
  int failed = 0;
};
std::map<std::string, Tally>& Tallies() {
  static auto* tallies = new std::map<std::string, Tally>();
  return *tallies;
}

// Structural equality of two Convex JSON texts (object key order and whitespace do not matter).
bool SameValue(const std::string& expected, const std::string& actual) {
  absl::StatusOr<storage::Value> a = storage::ParseConvexJson(expected);
  absl::StatusOr<storage::Value> b = storage::ParseConvexJson(actual);
  if (!a.ok() || !b.ok()) return expected == actual;
  return *a == *b;
}

// "" if `result` is what `c` says Convex does; otherwise how it differs.
std::string Mismatch(const Case& c, const FunctionResult& result) {
  std::vector<std::string> diffs;
  const bool failed = !result.status.ok();
  const std::string message = result.detail.message().empty() ? result.status.error_message() : result.detail.message();
  switch (c.expect_case()) {
    case Case::kValue:
      if (failed) {
        diffs.push_back(absl::StrCat("expected value ", c.value(), ", got error: ", message));
      } else if (!SameValue(c.value(), result.response.result_json())) {
        diffs.push_back(absl::StrCat("expected value ", c.value(), ", got ", result.response.result_json()));
      }
      break;
    case Case::kError:
    case Case::kErrorContains: {
      const bool exact = c.expect_case() == Case::kError;
      const std::string& want = exact ? c.error() : c.error_contains();
      if (!failed) {
        diffs.push_back(absl::StrCat("expected error \"", want, "\", got value ", result.response.result_json()));
      } else if (exact ? message != want : message.find(want) == std::string::npos) {
        diffs.push_back(absl::StrCat("expected error ", exact ? "" : "containing ", "\"", want, "\", got \"", message, "\""));
      }
      for (const std::string& part : c.stack_contains()) {
        if (failed && result.detail.stack().find(part) == std::string::npos) {
          diffs.push_back(absl::StrCat("expected a stack containing \"", part, "\", got \"", result.detail.stack(), "\""));
        }
      }
      if (failed && !c.error_data().empty() && !SameValue(c.error_data(), result.detail.convex_error_data_json())) {
        diffs.push_back(absl::StrCat("expected error data ", c.error_data(), ", got ", result.detail.convex_error_data_json()));
      }
      break;
    }
    case Case::EXPECT_NOT_SET:
      diffs.push_back("the case states no expectation");
      break;
  }
  if (c.check_logs()) {
    const auto& lines = failed ? result.detail.log_lines() : result.response.log_lines();
    std::vector<std::string> want, got;
    for (const ExpectedLog& line : c.logs()) want.push_back(absl::StrCat(line.level(), " ", line.message()));
    for (const isobar::v1::LogLine& line : lines) got.push_back(absl::StrCat(line.level(), " ", line.message()));
    bool same = want.size() == got.size();
    for (size_t i = 0; same && i < want.size(); ++i) {
      same = c.logs(i).contains() ? absl::StartsWith(got[i], absl::StrCat(c.logs(i).level(), " ")) &&
                                        got[i].find(c.logs(i).message()) != std::string::npos
                                  : want[i] == got[i];
    }
    if (!same) {
      diffs.push_back(absl::StrCat("expected logs [", absl::StrJoin(want, " | "), "], got [", absl::StrJoin(got, " | "), "]"));
    }
  }
  return absl::StrJoin(diffs, "; ");
}

CallKind KindOf(const Call& call) {
  switch (call.kind()) {
    case Call::MUTATION:
      return CallKind::kMutation;
    case Call::ACTION:
      return CallKind::kAction;
    default:
      return CallKind::kQuery;
  }
}

class Conformance : public ::testing::Environment {
 public:
  void SetUp() override {
    supervisor_ = new SupervisorProcess({.workers = 2, .enable_eval = false});
    ASSERT_TRUE(supervisor_->Start().ok());
    // Convex allows 16 MiB arguments and results: larger than gRPC's default 4 MiB messages.
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(-1);
    arguments.SetMaxSendMessageSize(-1);
    channel_ = grpc::CreateCustomChannel(supervisor_->address(), grpc::InsecureChannelCredentials(), arguments);
    functions_ = isobar::v1::Functions::NewStub(channel_);
    deployments_ = isobar::v1::Deployments::NewStub(channel_);
    absl::StatusOr<std::string> key = supervisor_->Deploy(kDeployment, "tests/conformance/app.modules");
    ASSERT_TRUE(key.ok()) << key.status();
    key_ = *key;
  }
  void TearDown() override {
    std::string table = absl::StrFormat("\n%-12s %6s %6s %9s %6s\n", "area", "cases", "match", "divergent", "failed");
    Tally total;
    for (const auto& [area, t] : Tallies()) {
      absl::StrAppend(&table, absl::StrFormat("%-12s %6d %6d %9d %6d\n", area, t.cases, t.match, t.divergent, t.failed));
      total.cases += t.cases;
      total.match += t.match;
      total.divergent += t.divergent;
      total.failed += t.failed;
    }
    absl::StrAppend(&table, absl::StrFormat("%-12s %6d %6d %9d %6d\n", "total", total.cases, total.match, total.divergent,
                                            total.failed));
    std::printf("%s", table.c_str());
    if (total.failed > 0) {
      // What the supervisor and its workers said about crashes, for the cases that failed.
      std::istringstream log(supervisor_->log());
      for (std::string line; std::getline(log, line);) {
        if (line.find("died") != std::string::npos || line.find("atal") != std::string::npos ||
            line.find("signal") != std::string::npos) {
          std::printf("supervisor: %s\n", line.c_str());
        }
      }
    }
    functions_.reset();
    deployments_.reset();
    delete supervisor_;
  }

  static absl::Status SetEnv(const std::string& deployment, const std::string& name, const std::string& value) {
    grpc::ClientContext context;
    supervisor_->Authorize(context);
    isobar::v1::SetEnvRequest request;
    request.set_deployment(deployment);
    request.mutable_variable()->set_name(name);
    request.mutable_variable()->set_value(value);
    isobar::v1::SetEnvResponse response;
    grpc::Status status = deployments_->SetEnv(&context, request, &response);
    if (!status.ok()) return absl::InternalError(status.error_message());
    return absl::OkStatus();
  }

  static FunctionResult Run(const std::string& deployment, const std::string& key, const Call& call) {
    return CallFunction(*functions_, KindOf(call),
                        {.deployment = deployment,
                         .key = key,
                         .path = call.path(),
                         .args_json = call.args().empty() ? "{}" : call.args(),
                         .timeout = absl::Seconds(60)});
  }

  // Runs `c` on a deployment; "" if Convex's behaviour was seen, else how it differed.
  static std::string RunCase(const std::string& deployment, const std::string& key, const Case& c) {
    for (const auto& [name, value] : c.env()) {
      absl::Status set = SetEnv(deployment, name, value);
      if (!set.ok()) return absl::StrCat("setting ", name, ": ", set.message());
    }
    for (const Call& setup : c.setup()) {
      FunctionResult r = Run(deployment, key, setup);
      if (!r.status.ok()) {
        // Never a known difference: the case did not get to what it checks.
        ADD_FAILURE() << "setup " << setup.path() << " failed: " << r.status.error_message();
        return absl::StrCat("setup ", setup.path(), " failed: ", r.status.error_message());
      }
    }
    const absl::Time deadline = absl::Now() + kEventually;
    for (;;) {
      std::string mismatch = Mismatch(c, Run(deployment, key, c.call()));
      if (mismatch.empty() || !c.eventually() || absl::Now() > deadline) return mismatch;
      absl::SleepFor(absl::Milliseconds(50));  // polling the scheduler's progress: leave it the CPU
    }
  }

  static SupervisorProcess* supervisor_;
  static std::shared_ptr<grpc::Channel> channel_;
  static std::unique_ptr<isobar::v1::Functions::Stub> functions_;
  static std::unique_ptr<isobar::v1::Deployments::Stub> deployments_;
  static std::string key_;
};

SupervisorProcess* Conformance::supervisor_ = nullptr;
std::shared_ptr<grpc::Channel> Conformance::channel_;
std::unique_ptr<isobar::v1::Functions::Stub> Conformance::functions_;
std::unique_ptr<isobar::v1::Deployments::Stub> Conformance::deployments_;
std::string Conformance::key_;

// Records the outcome of one case and fails the test if it is not the one expected.
void Judge(const std::string& area, const std::string& divergent, const std::string& mismatch) {
  Tally& tally = Tallies()[area];
  ++tally.cases;
  if (divergent.empty()) {
    if (mismatch.empty()) {
      ++tally.match;
    } else {
      ++tally.failed;
      ADD_FAILURE() << "differs from Convex: " << mismatch;
    }
  } else if (!mismatch.empty()) {
    ++tally.divergent;
  } else {
    ++tally.failed;
    ADD_FAILURE() << "now matches Convex; remove `divergent` (\"" << divergent << "\")";
  }
}

TEST(CaseFiles, Parse) {
  EXPECT_FALSE(Files().empty()) << "no case files under " << kCasesDir;
  EXPECT_TRUE(ParseErrors().empty()) << absl::StrJoin(ParseErrors(), ", ");
}

class CallCase : public ::testing::TestWithParam<Loaded> {};

TEST_P(CallCase, AsConvex) {
  const Loaded& loaded = GetParam();
  SCOPED_TRACE(absl::StrCat(loaded.area, "/", loaded.c.name(), " (Convex: ", loaded.c.convex(), ")"));
  Judge(loaded.area, loaded.c.divergent(), Conformance::RunCase(kDeployment, Conformance::key_, loaded.c));
}

class PushCaseTest : public ::testing::TestWithParam<LoadedPush> {};

TEST_P(PushCaseTest, AsConvex) {
  const LoadedPush& loaded = GetParam();
  const PushCase& p = loaded.p;
  SCOPED_TRACE(absl::StrCat(loaded.area, "/", p.name(), " (Convex: ", p.convex(), ")"));
  // Deployment names are a-z, 0-9 and '-'.
  std::string deployment = absl::StrCat("push-", absl::AsciiStrToLower(p.name()));
  for (char& c : deployment) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '-';
  }
  deployment = deployment.substr(0, 64);
  absl::StatusOr<isobar::v1::PushRequest> push =
      SupervisorProcess::BundlePush(deployment, absl::StrCat("tests/conformance/pushes/", p.bundle(), ".modules"));
  ASSERT_TRUE(push.ok()) << push.status();
  isobar::v1::CreateDeploymentResponse created;
  {
    grpc::ClientContext context;
    Conformance::supervisor_->Authorize(context);
    isobar::v1::CreateDeploymentRequest request;
    request.set_name(deployment);
    grpc::Status status = Conformance::deployments_->CreateDeployment(&context, request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  for (const auto& [name, value] : p.env()) ASSERT_TRUE(Conformance::SetEnv(deployment, name, value).ok());
  grpc::ClientContext context;
  Conformance::supervisor_->Authorize(context);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(90)));
  isobar::v1::PushResponse pushed;
  grpc::Status status = Conformance::deployments_->Push(&context, *push, &pushed);
  std::string mismatch;
  if (p.expect_case() == PushCase::kErrorContains) {
    if (status.ok()) {
      mismatch = absl::StrCat("expected the push to fail with \"", p.error_contains(), "\"; it succeeded");
    } else if (status.error_message().find(p.error_contains()) == std::string::npos) {
      mismatch = absl::StrCat("expected a push error containing \"", p.error_contains(), "\", got \"",
                              status.error_message(), "\"");
    }
  }
  if (mismatch.empty() && p.expect_case() == PushCase::kErrorContains) {
    const std::string stack = ErrorDetailOf(context).stack();
    for (const std::string& part : p.stack_contains()) {
      if (stack.find(part) == std::string::npos) {
        mismatch = absl::StrCat("expected a push error stack containing \"", part, "\", got \"", stack, "\"");
      }
    }
  } else if (p.expect_case() != PushCase::kErrorContains && !status.ok()) {
    mismatch = absl::StrCat("expected the push to succeed, got \"", status.error_message(), "\"");
  } else if (p.has_after()) {
    mismatch = Conformance::RunCase(deployment, created.api_key(), p.after());
  }
  Judge(loaded.area, p.divergent(), mismatch);
}

// A test name from an area and a case name: letters, digits and underscores.
std::string TestName(const std::string& area, const std::string& name) {
  std::string out = absl::StrCat(area, "_", name);
  for (char& c : out) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return out;
}
std::string CaseName(const ::testing::TestParamInfo<Loaded>& info) { return TestName(info.param.area, info.param.c.name()); }
std::string PushName(const ::testing::TestParamInfo<LoadedPush>& info) {
  return TestName(info.param.area, info.param.p.name());
}

INSTANTIATE_TEST_SUITE_P(Cases, CallCase, ::testing::ValuesIn(CallCases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Pushes, PushCaseTest, ::testing::ValuesIn(PushCases()), PushName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(PushCaseTest);

}  // namespace
}  // namespace isobar::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new isobar::testing::Conformance());
  return RUN_ALL_TESTS();
}
