// The Deployments service on a real supervisor with its embedded PostgreSQL, through gRPC and through
// isobarctl: creating and describing deployments, their API keys (returned once, stored hashed),
// errors, and authentication.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <vector>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "isobar/v1/api.grpc.pb.h"
#include "storage/pg_conn.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

class DeploymentsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    supervisor_ = new SupervisorProcess({.workers = 1});
    absl::Status started = supervisor_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
  static void TearDownTestSuite() {
    delete supervisor_;
    supervisor_ = nullptr;
  }

  std::unique_ptr<isobar::v1::Deployments::Stub> Stub() {
    return isobar::v1::Deployments::NewStub(grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
  }
  grpc::Status Create(const std::string& name, isobar::v1::CreateDeploymentResponse* response, bool authorize = true) {
    grpc::ClientContext context;
    if (authorize) supervisor_->Authorize(context);
    isobar::v1::CreateDeploymentRequest request;
    request.set_name(name);
    return Stub()->CreateDeployment(&context, request, response);
  }

  static SupervisorProcess* supervisor_;
};

SupervisorProcess* DeploymentsTest::supervisor_ = nullptr;

TEST_F(DeploymentsTest, CreateReturnsAKeyOnceAndStoresOnlyItsHash) {
  isobar::v1::CreateDeploymentResponse created;
  grpc::Status status = Create("chat", &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.deployment().name(), "chat");
  EXPECT_EQ(created.deployment().api_keys(), 2u);  // a Functions key and the deployment's admin key
  EXPECT_EQ(created.deployment().tables(), 0u);
  EXPECT_THAT(created.api_key(), ::testing::MatchesRegex("isobar_[0-9a-f]{64}"));
  EXPECT_THAT(created.admin_key(), ::testing::MatchesRegex("isobar_[0-9a-f]{64}"));

  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::GetDeploymentRequest get;
  get.set_name("chat");
  isobar::v1::Deployment deployment;
  status = Stub()->GetDeployment(&context, get, &deployment);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(deployment.api_keys(), 2u);

  absl::StatusOr<std::unique_ptr<storage::PgConn>> conn = storage::PgConn::Connect(supervisor_->pg_conninfo());
  ASSERT_TRUE(conn.ok()) << conn.status();
  absl::StatusOr<storage::PgResult> rows = (*conn)->Exec(
      "SELECT encode(k.key_hash, 'hex') FROM isobar.api_keys k JOIN isobar.deployments d ON d.id = k.deployment_id "
      "WHERE d.name = 'chat'");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->rows(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(std::string(rows->Get(i, 0)).size(), 64u);
    // Hashes, not the keys.
    EXPECT_THAT(created.api_key(), ::testing::Not(HasSubstr(std::string(rows->Get(i, 0)))));
    EXPECT_THAT(created.admin_key(), ::testing::Not(HasSubstr(std::string(rows->Get(i, 0)))));
  }
}

TEST_F(DeploymentsTest, ErrorsSayWhatIsWrong) {
  isobar::v1::CreateDeploymentResponse response;
  ASSERT_TRUE(Create("taken", &response).ok());
  grpc::Status status = Create("taken", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("already exists"));
  for (const std::string& bad : {std::string("Bad Name"), std::string("x'; DROP TABLE isobar.deployments; --"),
                                 std::string("../etc"), std::string("")}) {
    EXPECT_EQ(Create(bad, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::GetDeploymentRequest get;
  get.set_name("missing");
  isobar::v1::Deployment deployment;
  EXPECT_EQ(Stub()->GetDeployment(&context, get, &deployment).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Create("no-key", &response, /*authorize=*/false).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// The standard services on the public port, without any key: health for load balancers, reflection
// for tools such as grpcurl.
TEST_F(DeploymentsTest, HealthAndReflectionAreServed) {
  auto channel = grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials());
  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse health;
  grpc::Status status = grpc::health::v1::Health::NewStub(channel)->Check(&health_context, check, &health);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  grpc::ClientContext reflection_context;
  auto stream = grpc::reflection::v1alpha::ServerReflection::NewStub(channel)->ServerReflectionInfo(&reflection_context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> services;
  for (const auto& service : response.list_services_response().service()) services.push_back(service.name());
  EXPECT_THAT(services, ::testing::IsSupersetOf({"isobar.v1.Admin", "isobar.v1.Deployments", "grpc.health.v1.Health"}));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(DeploymentsTest, EnvironmentVariables) {
  isobar::v1::CreateDeploymentResponse created;
  ASSERT_TRUE(Create("with-env", &created).ok());
  auto set = [&](const std::string& deployment, const std::string& name, const std::string& value) {
    grpc::ClientContext context;
    supervisor_->Authorize(context);
    isobar::v1::SetEnvRequest request;
    request.set_deployment(deployment);
    request.mutable_variable()->set_name(name);
    request.mutable_variable()->set_value(value);
    isobar::v1::SetEnvResponse response;
    return Stub()->SetEnv(&context, request, &response);
  };
  ASSERT_TRUE(set("with-env", "GREETING", "hello").ok());
  ASSERT_TRUE(set("with-env", "API_TOKEN", "s3cret").ok());
  EXPECT_EQ(set("with-env", "bad name", "x").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(set("with-env", "BIG", std::string(9000, 'x')).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(set("nowhere", "X", "1").error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::ListEnvRequest list;
  list.set_deployment("with-env");
  isobar::v1::ListEnvResponse variables;
  grpc::Status status = Stub()->ListEnv(&context, list, &variables);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(variables.variables_size(), 2);
  EXPECT_EQ(variables.variables(0).name(), "API_TOKEN");
  EXPECT_EQ(variables.variables(1).value(), "hello");
  // Values may be secrets: the log names the variable, never its value.
  EXPECT_THAT(supervisor_->log(), HasSubstr("environment variable API_TOKEN set"));
  EXPECT_THAT(supervisor_->log(), ::testing::Not(HasSubstr("s3cret")));
}

// Admin.TailLogs streams function log lines as they happen.
TEST_F(DeploymentsTest, TailLogsStreamsConsoleOutput) {
  grpc::ClientContext context;
  supervisor_->Authorize(context);
  std::unique_ptr<grpc::ClientReader<isobar::v1::LogEntry>> tail =
      supervisor_->admin().TailLogs(&context, isobar::v1::TailLogsRequest());
  tail->WaitForInitialMetadata();  // subscribed
  isobar::v1::EvalResponse response;
  grpc::Status status = supervisor_->Eval("console.warn('tailed', {n: 1}); 1", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  isobar::v1::LogEntry entry;
  ASSERT_TRUE(tail->Read(&entry));
  EXPECT_EQ(entry.function(), "eval");
  EXPECT_EQ(entry.level(), "warn");
  EXPECT_EQ(entry.message(), "'tailed' {\n  n: 1\n}");
  EXPECT_GT(entry.unix_time_ms(), 0);
  context.TryCancel();
  EXPECT_EQ(tail->Finish().error_code(), grpc::StatusCode::CANCELLED);

  grpc::ClientContext unauthorized;
  auto refused = supervisor_->admin().TailLogs(&unauthorized, isobar::v1::TailLogsRequest());
  EXPECT_FALSE(refused->Read(&entry));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// A push of a real app's bundle (tests/apps/abi, built by esbuild from the convex npm package): analysed
// in a worker, published as a version, its functions listed; failures change nothing.
TEST_F(DeploymentsTest, PushAnalysesPublishesAndListsFunctions) {
  isobar::v1::CreateDeploymentResponse created;
  ASSERT_TRUE(Create("pushed", &created).ok());
  absl::StatusOr<isobar::v1::PushRequest> bundle_push = SupervisorProcess::BundlePush("pushed", "tests/apps/abi.modules");
  ASSERT_TRUE(bundle_push.ok()) << bundle_push.status();
  isobar::v1::PushRequest push = *bundle_push;
  auto do_push = [&](const isobar::v1::PushRequest& request, isobar::v1::PushResponse* response,
                     isobar::v1::ErrorDetail* detail = nullptr) {
    grpc::ClientContext context;
    supervisor_->Authorize(context);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    grpc::Status status = Stub()->Push(&context, request, response);
    if (detail != nullptr) *detail = ErrorDetailOf(context);
    return status;
  };
  isobar::v1::PushResponse pushed;
  grpc::Status status = do_push(push, &pushed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(pushed.version(), 1);
  auto find = [](const auto& functions, const std::string& path) -> const isobar::v1::FunctionInfo* {
    for (const auto& f : functions) {
      if (f.path() == path) return &f;
    }
    return nullptr;
  };
  const isobar::v1::FunctionInfo* send = find(pushed.functions(), "messages:send");
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->kind(), "mutation");
  EXPECT_EQ(send->visibility(), "public");
  EXPECT_THAT(send->args_json(), HasSubstr(R"("body":{"fieldType":{"type":"string"},"optional":false})"));
  ASSERT_NE(find(pushed.functions(), "messages:cleanup"), nullptr);
  EXPECT_EQ(find(pushed.functions(), "messages:cleanup")->visibility(), "internal");
  EXPECT_EQ(find(pushed.functions(), "messages:act")->kind(), "action");
  // The crons export is registered.
  std::map<std::string, std::pair<std::string, std::string>> crons;
  for (const auto& cron : pushed.crons()) crons[cron.name()] = {cron.function(), cron.schedule_json()};
  ASSERT_EQ(crons.size(), 3u);
  EXPECT_EQ(crons["clear"].first, "messages:cleanup");
  EXPECT_EQ(crons["clear"].second, R"({"minutes":5,"type":"interval"})");
  EXPECT_EQ(crons["daily"].second, R"({"hourUTC":3,"minuteUTC":15,"type":"daily"})");
  EXPECT_EQ(crons["raw"].second, R"({"cron":"0 * * * *","type":"cron"})");

  // A module that throws while evaluating fails the push, with the user's stack; nothing changes.
  isobar::v1::PushRequest broken = push;
  isobar::v1::PushModule* bad = broken.add_modules();
  bad->set_path("broken.js");
  bad->set_source("function explode() { throw new Error('no config'); }\nexplode();\nexport const x = 1;");
  isobar::v1::PushResponse refused;
  isobar::v1::ErrorDetail detail;
  status = do_push(broken, &refused, &detail);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("the pushed modules failed to evaluate: Uncaught Error: no config"));
  EXPECT_EQ(detail.kind(), isobar::v1::ErrorDetail::USER_ERROR);
  EXPECT_THAT(detail.stack(), HasSubstr("at explode (convex:/broken.js:1:"));
  // Checked before any worker runs: a lying hash, a bad path, an unknown deployment.
  isobar::v1::PushRequest lying = push;
  lying.mutable_modules(0)->set_sha256_hex(std::string(64, '0'));
  EXPECT_EQ(do_push(lying, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  isobar::v1::PushRequest escaping = push;
  escaping.mutable_modules(0)->set_path("../../etc/passwd.js");
  EXPECT_EQ(do_push(escaping, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  isobar::v1::PushRequest nowhere = push;
  nowhere.set_deployment("nowhere");
  EXPECT_EQ(do_push(nowhere, &refused).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext context;
  supervisor_->Authorize(context);
  isobar::v1::ListFunctionsRequest list;
  list.set_deployment("pushed");
  isobar::v1::ListFunctionsResponse listed;
  status = Stub()->ListFunctions(&context, list, &listed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(listed.version(), 1);  // the failed pushes published nothing
  EXPECT_EQ(listed.functions_size(), pushed.functions_size());

  // A cron that names a query, or a schedule that makes no sense, fails the push.
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {".messages.countThem)", ".messages.list)"}, {"minutes: 5", "minutes: -5"},
           {"\"0 * * * *\"", "\"every hour\""}}) {
    isobar::v1::PushRequest bad_crons = push;
    bool replaced = false;
    for (auto& module : *bad_crons.mutable_modules()) {
      if (module.path() != "crons.js") continue;
      std::string source = module.source();
      size_t at = source.find(from);
      if (at == std::string::npos) continue;
      module.set_source(source.replace(at, from.size(), to));
      replaced = true;
    }
    ASSERT_TRUE(replaced) << "crons.js no longer contains " << from;
    EXPECT_EQ(do_push(bad_crons, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << to;
  }

  // The next push is version 2; its crons replace the old ones (here: none).
  push.mutable_modules(0)->mutable_source()->append("\n// v2");
  for (int i = 0; i < push.modules_size(); ++i) {
    if (push.modules(i).path() == "crons.js") push.mutable_modules()->DeleteSubrange(i, 1);
  }
  ASSERT_TRUE(do_push(push, &pushed).ok());
  EXPECT_EQ(pushed.version(), 2);
  EXPECT_EQ(pushed.crons_size(), 0);
  absl::StatusOr<std::unique_ptr<storage::PgConn>> pg = storage::PgConn::Connect(supervisor_->pg_conninfo());
  ASSERT_TRUE(pg.ok());
  absl::StatusOr<storage::PgResult> live_crons = (*pg)->Exec(
      "SELECT count(*) FROM (SELECT DISTINCT ON (d.id) d.deleted FROM isobar.documents d "
      "JOIN isobar.deployments p ON p.id = d.deployment_id WHERE p.name = 'pushed' AND d.table_number = 3 "
      "ORDER BY d.id, d.ts DESC) newest WHERE NOT deleted");
  ASSERT_TRUE(live_crons.ok()) << live_crons.status();
  EXPECT_EQ(live_crons->Get(0, 0), "0");

  // Crons and schema may also come as JSON beside the modules (replacing what the modules export).
  isobar::v1::PushRequest with_json = push;
  with_json.set_crons_json(R"({"tick":{"name":"messages:countThem","args":[{}],"schedule":{"type":"hourly","minuteUTC":5}}})");
  ASSERT_TRUE(do_push(with_json, &pushed).ok());
  ASSERT_EQ(pushed.crons_size(), 1);
  EXPECT_EQ(pushed.crons(0).name(), "tick");
  EXPECT_EQ(pushed.crons(0).schedule_json(), R"({"minuteUTC":5,"type":"hourly"})");
  with_json.set_schema_json(R"({"schemaValidation":true,"tables":[{"tableName":"messages","indexes":[{"indexDescriptor":"by_id","fields":["body"]}],"searchIndexes":[],"vectorIndexes":[]}]})");
  status = do_push(with_json, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "the schema given as JSON applies";
  EXPECT_THAT(status.error_message(), HasSubstr(R"(In table "messages" cannot name an index "by_id" because the name is reserved.)"));
  with_json.set_schema_json("[1,2]");
  status = do_push(with_json, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("schema_json must be a JSON object or null"));
}

TEST_F(DeploymentsTest, ADeploymentsAdminKeyAdministersThatDeploymentOnly) {
  isobar::v1::CreateDeploymentResponse mine, theirs;
  ASSERT_TRUE(Create("scoped-mine", &mine).ok());
  ASSERT_TRUE(Create("scoped-theirs", &theirs).ok());
  ASSERT_EQ(mine.admin_key().size(), 7u + 64u);
  EXPECT_NE(mine.admin_key(), mine.api_key());
  auto set_env = [&](const std::string& deployment, const std::string& key) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + key);
    isobar::v1::SetEnvRequest request;
    request.set_deployment(deployment);
    request.mutable_variable()->set_name("SCOPED");
    request.mutable_variable()->set_value("yes");
    isobar::v1::SetEnvResponse response;
    return Stub()->SetEnv(&context, request, &response).error_code();
  };
  EXPECT_EQ(set_env("scoped-mine", mine.admin_key()), grpc::StatusCode::OK);
  EXPECT_EQ(set_env("scoped-theirs", mine.admin_key()), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(set_env("scoped-mine", mine.api_key()), grpc::StatusCode::UNAUTHENTICATED);  // a Functions key
  EXPECT_EQ(set_env("no-such-deployment", mine.admin_key()), grpc::StatusCode::UNAUTHENTICATED);
  // Not server-wide: no new deployments, no Admin.
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + mine.admin_key());
    isobar::v1::CreateDeploymentRequest request;
    request.set_name("scoped-new");
    isobar::v1::CreateDeploymentResponse response;
    EXPECT_EQ(Stub()->CreateDeployment(&context, request, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + mine.admin_key());
    isobar::v1::StatsResponse response;
    EXPECT_EQ(supervisor_->admin().Stats(&context, {}, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  isobar::v1::Deployment described;
  {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + mine.admin_key());
    isobar::v1::GetDeploymentRequest request;
    request.set_name("scoped-mine");
    ASSERT_TRUE(Stub()->GetDeployment(&context, request, &described).ok());
  }
  EXPECT_EQ(described.api_keys(), 2u);  // its Functions key and its admin key
}

TEST_F(DeploymentsTest, FileQuotasAreTheOperatorsToSet) {
  isobar::v1::CreateDeploymentResponse mine;
  ASSERT_TRUE(Create("quota-mine", &mine).ok());
  auto set_quota = [&](int64_t bytes, const std::string& key, isobar::v1::Deployment* out) {
    grpc::ClientContext context;
    if (key.empty()) {
      supervisor_->Authorize(context);
    } else {
      context.AddMetadata("authorization", "Bearer " + key);
    }
    isobar::v1::SetLimitsRequest request;
    request.set_deployment("quota-mine");
    request.set_file_quota_bytes(bytes);
    return Stub()->SetLimits(&context, request, out).error_code();
  };
  isobar::v1::Deployment described;
  // The tenant's own admin key cannot raise its limits.
  EXPECT_EQ(set_quota(1 << 30, mine.admin_key(), &described), grpc::StatusCode::UNAUTHENTICATED);
  ASSERT_EQ(set_quota(4096, "", &described), grpc::StatusCode::OK);
  EXPECT_EQ(described.file_quota_bytes(), 4096u);
  EXPECT_EQ(described.file_bytes(), 0u);
  ASSERT_EQ(set_quota(0, "", &described), grpc::StatusCode::OK);  // leaves it
  EXPECT_EQ(described.file_quota_bytes(), 4096u);
  EXPECT_EQ(set_quota(-2, "", &described), grpc::StatusCode::INVALID_ARGUMENT);
  // From isobarctl, back to the default.
  const std::string out = supervisor_->data_dir() + "/../quota.out";
  ASSERT_EQ(std::system(absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor_->address(), " --data-dir=",
                                     supervisor_->data_dir(), " deployments set-file-quota quota-mine default > ", out,
                                     " 2>&1")
                            .c_str()),
            0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("file storage: 0 of 1073741824 bytes\n"));
}

TEST_F(DeploymentsTest, IsobarctlCreatesAndDescribes) {
  const std::string out = supervisor_->data_dir() + "/../ctl.out";
  const std::string command = absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor_->address(),
                                           " --data-dir=", supervisor_->data_dir(), " deployments create from-cli > ",
                                           out, " 2>&1 && ", Runfile("cli/isobarctl"), " --url=", supervisor_->address(),
                                           " --data-dir=", supervisor_->data_dir(), " deployments get from-cli >> ",
                                           out, " 2>&1");
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::ifstream in(out);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_THAT(text.str(), ::testing::ContainsRegex("deployment from-cli created; its API key .*\nisobar_[0-9a-f]{64}\n"));
  EXPECT_THAT(text.str(), HasSubstr("deployment from-cli: 2 API key(s), 0 table(s)"));
  EXPECT_THAT(text.str(), HasSubstr(absl::StrCat("Convex clients connect to ", supervisor_->http_url(), "/d/from-cli\n")));
  EXPECT_THAT(text.str(), HasSubstr(absl::StrCat("client URL: ", supervisor_->http_url(), "/d/from-cli\n")));
  EXPECT_THAT(text.str(), ::testing::ContainsRegex("its own admin key .*\nisobar_[0-9a-f]{64}\n"));
  const std::string ctl = absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor_->address(), " --data-dir=",
                                       supervisor_->data_dir(), " --deployment=from-cli");
  ASSERT_EQ(std::system(absl::StrCat(ctl, " env set COLOR blue 2>/dev/null && ", ctl, " env list > ", out).c_str()), 0);
  std::ifstream listed(out);
  std::stringstream env;
  env << listed.rdbuf();
  EXPECT_EQ(env.str(), "COLOR=blue\n");

  // deploy: bundle a convex/ folder with the pinned esbuild and the convex package, push it.
  const std::string runfiles = std::filesystem::current_path().parent_path().string();
  const std::string deploy = absl::StrCat(ctl, " --esbuild=", runfiles, "/npm_deps/node_modules/@esbuild/linux-x64/bin/esbuild",
                                          " --node-path=", runfiles, "/npm_deps/node_modules deploy tests/apps/abi/convex/ > ",
                                          out, " 2>&1");
  ASSERT_EQ(std::system(deploy.c_str()), 0);
  std::ifstream deployed(out);
  std::stringstream deploy_out;
  deploy_out << deployed.rdbuf();
  EXPECT_THAT(deploy_out.str(), ::testing::ContainsRegex("deployed [0-9]+ modules to from-cli: version 1"));
  EXPECT_THAT(deploy_out.str(), ::testing::ContainsRegex("mutation +public +messages:send"));
  EXPECT_THAT(deploy_out.str(), ::testing::ContainsRegex("mutation +internal +messages:cleanup"));
}

}  // namespace
}  // namespace isobar::testing
