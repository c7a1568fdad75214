// Users sign in (issue 19): tokens from a test OIDC issuer of our own (tests/clients/oidc_issuer.js:
// keys made at its start, discovery document and JWKS on loopback) reach the signin app's functions
// as ctx.auth.getUserIdentity(), over gRPC (`authorization: Bearer <JWT>` beside `isobar-api-key`),
// the Convex HTTP API and the sync protocol; every kind of bad token is refused with Convex's words.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/node_server.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

class IdentityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    issuer_ = new NodeServer("oidc_issuer.js");
    supervisor_ = new SupervisorProcess({.workers = 2});
    absl::Status started = supervisor_->Start();
    ASSERT_TRUE(started.ok()) << started;
    channel_ = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel(supervisor_->address(), grpc::InsecureChannelCredentials()));
    auto deployments = isobar::v1::Deployments::NewStub(*channel_);
    auto admin = [](grpc::ClientContext& context) { supervisor_->Authorize(context); };
    {
      grpc::ClientContext context;
      admin(context);
      isobar::v1::CreateDeploymentRequest request;
      request.set_name("signin");
      isobar::v1::CreateDeploymentResponse created;
      ASSERT_TRUE(deployments->CreateDeployment(&context, request, &created).ok());
      api_key_ = new std::string(created.api_key());
    }
    {
      // auth.config.js reads the issuer's URL from the environment, as real apps do.
      grpc::ClientContext context;
      admin(context);
      isobar::v1::SetEnvRequest request;
      request.set_deployment("signin");
      request.mutable_variable()->set_name("ISSUER_URL");
      request.mutable_variable()->set_value(issuer_->url());
      isobar::v1::SetEnvResponse response;
      ASSERT_TRUE(deployments->SetEnv(&context, request, &response).ok());
    }
    {
      // The issuer is on loopback: the operator lets this deployment reach it (for its documents).
      grpc::ClientContext context;
      admin(context);
      isobar::v1::SetEgressRequest request;
      request.set_deployment("signin");
      request.mutable_policy()->add_allow("127.0.0.1/32");
      request.mutable_policy()->add_ports(static_cast<uint32_t>(issuer_->port()));
      isobar::v1::EgressPolicy response;
      ASSERT_TRUE(deployments->SetEgress(&context, request, &response).ok());
    }
    absl::StatusOr<isobar::v1::PushRequest> push = SupervisorProcess::BundlePush("signin", "tests/apps/signin.modules");
    ASSERT_TRUE(push.ok()) << push.status();
    grpc::ClientContext context;
    admin(context);
    isobar::v1::PushResponse pushed;
    grpc::Status status = deployments->Push(&context, *push, &pushed);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  static void TearDownTestSuite() {
    delete channel_;
    delete api_key_;
    delete supervisor_;
    delete issuer_;
  }

  // A token from the issuer: "sub=ann&alg=ES256&exp=-60", ...
  static std::string Mint(const std::string& query) {
    return std::string(absl::StripAsciiWhitespace(RunShell(absl::StrCat("curl -s '", issuer_->url("/token?"), query, "'")).out));
  }

  // users:whoAmI (or `path`) as the holder of `token`, with the deployment's API key.
  static FunctionResult AsUser(const std::string& token, const std::string& path = "users:whoAmI",
                               CallKind kind = CallKind::kQuery) {
    auto stub = isobar::v1::Functions::NewStub(*channel_);
    grpc::ClientContext context;
    context.AddMetadata("isobar-api-key", *api_key_);
    context.AddMetadata("authorization", "Bearer " + token);
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    isobar::v1::FunctionRequest request;
    request.set_deployment("signin");
    request.set_path(path);
    request.set_args_json("{}");
    FunctionResult result;
    result.status = kind == CallKind::kQuery      ? stub->Query(&context, request, &result.response)
                    : kind == CallKind::kMutation ? stub->Mutation(&context, request, &result.response)
                                                  : stub->Action(&context, request, &result.response);
    return result;
  }

  static NodeServer* issuer_;
  static SupervisorProcess* supervisor_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static std::string* api_key_;
};
NodeServer* IdentityTest::issuer_ = nullptr;
SupervisorProcess* IdentityTest::supervisor_ = nullptr;
std::shared_ptr<grpc::Channel>* IdentityTest::channel_ = nullptr;
std::string* IdentityTest::api_key_ = nullptr;

TEST_F(IdentityTest, ValidTokensOfBothAlgorithmsOverGrpc) {
  for (const char* alg : {"RS256", "ES256"}) {
    SCOPED_TRACE(alg);
    FunctionResult result = AsUser(Mint(absl::StrCat("alg=", alg, "&sub=ann&name=Ann&email=ann@example.com")));
    ASSERT_TRUE(result.status.ok()) << result.status.error_message() << "\n" << supervisor_->log();
    const std::string& identity = result.response.result_json();
    EXPECT_THAT(identity, HasSubstr(absl::StrCat(R"("tokenIdentifier":")", issuer_->url(), R"(|ann")")));
    EXPECT_THAT(identity, HasSubstr(R"("subject":"ann")"));
    EXPECT_THAT(identity, HasSubstr(absl::StrCat(R"("issuer":")", issuer_->url(), R"(")")));
    EXPECT_THAT(identity, HasSubstr(R"("name":"Ann")"));
    EXPECT_THAT(identity, HasSubstr(R"("email":"ann@example.com","emailVerified":true)"));
    EXPECT_THAT(identity, HasSubstr(R"("org":{"id":7)"));  // a custom claim, kept as it is
  }
  // The same user in an action, and in the query it runs.
  FunctionResult action = AsUser(Mint("sub=ann"), "users:whoAmIInAction", CallKind::kAction);
  ASSERT_TRUE(action.status.ok()) << action.status.error_message();
  EXPECT_EQ(action.response.result_json(), R"({"nestedSubject":"ann","subject":"ann"})");
  // The customJwt provider (ES256 only): its issuer is <issuer>/custom.
  FunctionResult custom = AsUser(Mint(absl::StrCat("alg=ES256&sub=dan&iss=", issuer_->url("/custom"))));
  ASSERT_TRUE(custom.status.ok()) << custom.status.error_message();
  EXPECT_THAT(custom.response.result_json(), HasSubstr(R"("org.id":7)"));  // customJwt flattens, as Convex does
}

TEST_F(IdentityTest, TheRefusalMatrix) {
  struct Case {
    std::string name;
    std::string token;
    std::string message;
  };
  std::string tampered = Mint("sub=ann");
  tampered[tampered.size() - 6] = tampered[tampered.size() - 6] == 'A' ? 'B' : 'A';
  const std::string oidc_refusal = "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired.";
  const std::vector<Case> cases = {
      {"bad signature", tampered, oidc_refusal},
      {"wrong aud", Mint("aud=another-app"), "No auth provider found matching the given token"},
      {"wrong iss", Mint("iss=https://evil.example"), "No auth provider found matching the given token"},
      {"expired", Mint("exp=-3600"), oidc_refusal},
      {"not yet valid", Mint("nbf=3600"), oidc_refusal},
      {"alg none", Mint("alg=none"), oidc_refusal},
      {"HS256 keyed with the public key", Mint("alg=HS256"), oidc_refusal},
      {"RS256 to the ES256-only customJwt", Mint(absl::StrCat("alg=RS256&iss=", issuer_->url("/custom"))),
       "Could not verify token claim"},
      {"not a JWT", "certainly-not-a-jwt", "Could not parse JWT payload"},
  };
  for (const Case& c : cases) {
    FunctionResult result = AsUser(c.token);
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << c.name;
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message)) << c.name;
  }
}

TEST_F(IdentityTest, AnUnknownKidThenRotation) {
  ASSERT_TRUE(AsUser(Mint("sub=ann")).status.ok());
  // A kid the issuer never had.
  FunctionResult unknown = AsUser(Mint("sub=ann&kid=never-issued"));
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The issuer rotates its keys: a token with the new kid makes the keys be fetched again, and works.
  RunShell(absl::StrCat("curl -s ", issuer_->url("/rotate")));
  FunctionResult rotated = AsUser(Mint("sub=ann"));
  EXPECT_TRUE(rotated.status.ok()) << rotated.status.error_message();
}

TEST_F(IdentityTest, ASubscriptionLastsAsLongAsItsToken) {
  auto stub = isobar::v1::Functions::NewStub(*channel_);
  grpc::ClientContext context;
  context.AddMetadata("isobar-api-key", *api_key_);
  context.AddMetadata("authorization", "Bearer " + Mint("sub=ivy&exp=2"));
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->Subscribe(&context);
  isobar::v1::SubscribeRequest request;
  request.set_deployment("signin");
  auto* add = request.add_changes()->mutable_add();
  add->set_query_id(1);
  add->set_path("users:whoAmI");
  add->set_args_json("{}");
  ASSERT_TRUE(stream->Write(request));
  isobar::v1::Transition transition;
  ASSERT_TRUE(stream->Read(&transition));
  ASSERT_EQ(transition.modifications_size(), 1);
  EXPECT_THAT(transition.modifications(0).updated().value_json(), HasSubstr(R"("subject":"ivy")"));
  // The token expires two seconds after it was made: the stream ends, saying why.
  while (stream->Read(&transition)) {
  }
  grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ended.error_message(), "Convex token identity expired");
}

TEST_F(IdentityTest, TheConvexHttpApi) {
  const std::string api = absl::StrCat(supervisor_->http_url(), "/d/signin/api/query");
  ShellResult ok = RunShell(absl::StrCat("curl -s -H 'Authorization: Bearer ", Mint("sub=erin"), "' -H 'content-type: application/json' "
                                         "-d '{\"path\":\"users:whoAmI\",\"args\":{},\"format\":\"json\"}' ", api));
  EXPECT_THAT(ok.out, HasSubstr(R"("status":"success")"));
  EXPECT_THAT(ok.out, HasSubstr(R"("subject":"erin")"));
  ShellResult refused = RunShell(absl::StrCat("curl -s -w ' %{http_code}' -H 'Authorization: Bearer ", Mint("exp=-3600"),
                                              "' -H 'content-type: application/json' "
                                              "-d '{\"path\":\"users:whoAmI\",\"args\":{},\"format\":\"json\"}' ", api));
  EXPECT_THAT(refused.out, HasSubstr(R"({"code":"Unauthenticated","message":"Could not verify OIDC token claim.)"));
  EXPECT_THAT(refused.out, HasSubstr(" 401"));
}

TEST_F(IdentityTest, HttpActionsReadTheAuthorizationHeader) {
  const std::string me = absl::StrCat("curl -s ", supervisor_->site_url(), "/d/signin/me");
  EXPECT_EQ(RunShell(absl::StrCat(me, " -H 'Authorization: Bearer ", Mint("sub=fay"), "'")).out, R"({"subject":"fay"})");
  EXPECT_EQ(RunShell(me).out, R"({"subject":null})");
  // A refused token does not stop the action (as on Convex); reading the identity throws why.
  EXPECT_THAT(RunShell(absl::StrCat(me, " -H 'Authorization: Bearer ", Mint("exp=-3600"), "'")).out,
              HasSubstr(R"({"error":"Could not verify OIDC token claim.)"));
}

TEST_F(IdentityTest, AQueryBatchRunsAsTheTokensUser) {
  ShellResult batch = RunShell(absl::StrCat(
      "curl -s -H 'Authorization: Bearer ", Mint("sub=gus"), "' -H 'content-type: application/json' -d "
      "'{\"queries\":[{\"path\":\"users:whoAmI\",\"args\":{}},{\"path\":\"users:whoAmI\",\"args\":{}}]}' ",
      supervisor_->http_url(), "/d/signin/api/query_batch"));
  EXPECT_THAT(batch.out, HasSubstr(R"("subject":"gus")"));
  EXPECT_THAT(batch.out, ::testing::Not(HasSubstr(R"("value":null)")));
}

TEST_F(IdentityTest, TheSigninAppWithConvexsOwnClients) {
  const std::string runfiles = std::filesystem::current_path().parent_path().string();
  ShellResult client = RunShell(absl::StrCat("NODE_PATH=", runfiles, "/npm_deps/node_modules timeout 120 node ",
                                             Runfile("tests/clients/signin_client.js"), " ", supervisor_->http_url(),
                                             "/d/signin ", issuer_->url(), " 2>&1"));
  EXPECT_EQ(client.status, 0) << client.out << "\nsupervisor log:\n" << supervisor_->log();
  EXPECT_THAT(client.out, HasSubstr("signin client: ok"));
}

TEST_F(IdentityTest, ActingAsAUserIsTheAdminsAlone) {
  const std::string isobarctl = absl::StrCat(Runfile("cli/isobarctl"), " --url=", supervisor_->address(),
                                             " --data-dir=", supervisor_->data_dir(), " --deployment=signin");
  ShellResult acting = RunShell(absl::StrCat(
      isobarctl, R"( --identity='{"tokenIdentifier":"https://x.example|zed","subject":"zed","issuer":"https://x.example"}')",
      " run users:whoAmI 2>&1"));
  EXPECT_EQ(acting.status, 0) << acting.out;
  EXPECT_THAT(acting.out, HasSubstr(R"("subject":"zed")"));
  // With the deployment's API key, identity_json is refused.
  auto stub = isobar::v1::Functions::NewStub(*channel_);
  FunctionResult posing = CallFunction(*stub, CallKind::kQuery,
                                       {.deployment = "signin", .key = *api_key_, .path = "users:whoAmI",
                                        .identity_json = R"({"tokenIdentifier":"https://x.example|zed","subject":"zed","issuer":"https://x.example"})"});
  EXPECT_EQ(posing.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace isobar::testing
