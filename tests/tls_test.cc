// TLS on the gRPC API and the HTTP listeners (issue 21, item 1), with certificates made by the openssl
// tool for this test:
// a client trusting the right CA gets through; a plaintext client and one trusting another CA do
// not (isobarctl with --tls-ca too); a renewed certificate written over the files is used for new connections without a restart;
// a key that does not match its certificate stops the supervisor at start, saying so.
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "isobar/v1/api.grpc.pb.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/tls";
    ASSERT_EQ(RunShell("mkdir -p " + dir_).status, 0);
    std::ofstream(dir_ + "/san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    for (const char* ca : {"ca1", "ca2"}) MakeCa(ca);
    MakeServer("s1", "ca1");
    MakeServer("s2", "ca2");
    Install("s1");
  }

  void Run(const std::string& command) {
    ShellResult result = RunShell(absl::StrCat("cd ", dir_, " && ", command, " 2>&1"));
    ASSERT_EQ(result.status, 0) << command << "\n" << result.out;
  }
  void MakeCa(const std::string& name) {
    Run(absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", name,
                     ".key -out ", name, ".pem -days 2 -subj /CN=isobar-test-", name));
  }
  void MakeServer(const std::string& name, const std::string& ca) {
    Run(absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", name,
                     ".key -out ", name, ".csr -subj /CN=localhost"));
    Run(absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca, ".key -CAcreateserial -out ",
                     name, ".pem -days 2 -extfile san.ext"));
  }
  // The server's files, replaced whole (as a renewal tool does): written aside, then renamed.
  void Install(const std::string& name) {
    Run(absl::StrCat("cp ", name, ".key server.key.new && cp ", name, ".pem server.pem.new && mv server.key.new server.key",
                     " && mv server.pem.new server.pem"));
  }

  // Admin.Ping over a new connection trusting `ca` (empty: plaintext).
  grpc::Status Ping(const SupervisorProcess& supervisor, const std::string& ca) {
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!ca.empty()) {
      grpc::SslCredentialsOptions options;
      options.pem_root_certs = ReadAll(dir_ + "/" + ca + ".pem");
      credentials = grpc::SslCredentials(options);
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a handshake of its own
    auto admin = isobar::v1::Admin::NewStub(grpc::CreateCustomChannel(supervisor.address(), credentials, args));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + supervisor.admin_key());
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    isobar::v1::PingResponse response;
    return admin->Ping(&context, {}, &response);
  }

  std::string dir_;
};

TEST_F(TlsTest, OnlyClientsTrustingTheServersCaGetThroughAndARenewedCertificateIsUsed) {
  SupervisorProcess supervisor({.workers = 1,
                                .extra_args = {"--tls-cert=" + dir_ + "/server.pem", "--tls-key=" + dir_ + "/server.key",
                                               "--tls-reload-seconds=1"}});
  ASSERT_TRUE(supervisor.Start().ok()) << supervisor.log();
  EXPECT_THAT(supervisor.log(), HasSubstr("(TLS)"));
  grpc::Status trusted = Ping(supervisor, "ca1");
  EXPECT_TRUE(trusted.ok()) << trusted.error_message();
  EXPECT_EQ(Ping(supervisor, "").error_code(), grpc::StatusCode::UNAVAILABLE);     // plaintext
  EXPECT_EQ(Ping(supervisor, "ca2").error_code(), grpc::StatusCode::UNAVAILABLE);  // another CA
  // isobarctl, given the CA.
  const std::string ctl = absl::StrCat("ISOBAR_ADMIN_KEY=", supervisor.admin_key(), " ", Runfile("cli/isobarctl"),
                                       " --url=", supervisor.address());
  ShellResult pinged = RunShell(absl::StrCat(ctl, " --tls-ca=", dir_, "/ca1.pem ping 2>&1"));
  EXPECT_EQ(pinged.status, 0) << pinged.out;
  EXPECT_NE(RunShell(absl::StrCat(ctl, " --tls-ca=", dir_, "/ca2.pem ping 2>&1")).status, 0);

  // Renewed in place, by another CA: new connections get the new certificate within the reload
  // interval, with no restart.
  Install("s2");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  grpc::Status renewed = Ping(supervisor, "ca2");
  while (!renewed.ok() && absl::Now() < deadline) renewed = Ping(supervisor, "ca2");
  EXPECT_TRUE(renewed.ok()) << renewed.error_message() << "\n" << supervisor.log();
  EXPECT_EQ(Ping(supervisor, "ca1").error_code(), grpc::StatusCode::UNAVAILABLE);
}

// The HTTP listener (the Convex HTTP API, its WebSocket sync protocol, health, metrics) and the HTTP
// actions' listener serve TLS with the same certificate: curl and Python's ssl, trusting the right
// CA, get through (a WebSocket upgrade included); plaintext and another CA do not; a renewal is used.
TEST_F(TlsTest, TheHttpListenersServeHttpsAndWssWithTheSameCertificate) {
  SupervisorProcess supervisor({.workers = 1,
                                .extra_args = {"--tls-cert=" + dir_ + "/server.pem", "--tls-key=" + dir_ + "/server.key",
                                               "--tls-reload-seconds=1"}});
  ASSERT_TRUE(supervisor.Start().ok()) << supervisor.log();
  // A deployment for the WebSocket to reach, made over the TLS gRPC API.
  ShellResult created = RunShell(absl::StrCat("ISOBAR_ADMIN_KEY=", supervisor.admin_key(), " ", Runfile("cli/isobarctl"),
                                              " --url=", supervisor.address(), " --tls-ca=", dir_,
                                              "/ca1.pem deployments create secure 2>&1"));
  ASSERT_EQ(created.status, 0) << created.out;
  EXPECT_THAT(supervisor.http_url(), ::testing::StartsWith("https://"));
  EXPECT_THAT(supervisor.site_url(), ::testing::StartsWith("https://"));
  const std::string port = absl::StrCat(supervisor.http_port());
  // GET /healthz with Python's urllib (the outsider's TLS stack), trusting `ca`'s certificate.
  std::ofstream(dir_ + "/get.py") << "import ssl, sys, urllib.request\n"
                                     "context = ssl.create_default_context(cafile=sys.argv[1])\n"
                                     "print(urllib.request.urlopen(sys.argv[2], context=context, timeout=10).status)\n";
  auto curl = [&](const std::string& ca, const std::string& scheme) {
    return RunShell(absl::StrCat("python3 ", dir_, "/get.py ", dir_, "/", ca, ".pem ", scheme, "://localhost:", port,
                                 "/healthz 2>&1"));
  };
  ShellResult trusted = curl("ca1", "https");
  EXPECT_EQ(trusted.status, 0) << trusted.out;
  EXPECT_NE(curl("ca2", "https").status, 0);  // another CA
  EXPECT_NE(curl("ca1", "http").status, 0);   // plaintext
  // The Convex sync protocol's WebSocket, over TLS.
  std::ofstream(dir_ + "/wss.py")
      << "import base64, os, socket, ssl, sys\n"
         "context = ssl.create_default_context(cafile=sys.argv[1])\n"
         "s = context.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[2])), timeout=10), "
         "server_hostname='localhost')\n"
         "key = base64.b64encode(os.urandom(16)).decode()\n"
         "s.sendall(('GET /d/secure/api/1.48.0/sync HTTP/1.1\\r\\nHost: localhost\\r\\nUpgrade: websocket\\r\\n'\n"
         "           'Connection: Upgrade\\r\\nSec-WebSocket-Key: ' + key + '\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n').encode())\n"
         "print(s.recv(4096).decode().split('\\r\\n')[0])\n";
  ShellResult upgraded = RunShell(absl::StrCat("python3 ", dir_, "/wss.py ", dir_, "/ca1.pem ", port, " 2>&1"));
  EXPECT_EQ(upgraded.status, 0) << upgraded.out;
  EXPECT_THAT(upgraded.out, HasSubstr("101 Switching Protocols"));

  // Renewed in place by another CA: new connections get it within the reload interval.
  Install("s2");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  ShellResult renewed = curl("ca2", "https");
  while (renewed.status != 0 && absl::Now() < deadline) renewed = curl("ca2", "https");
  EXPECT_EQ(renewed.status, 0) << renewed.out << supervisor.log();
  EXPECT_NE(curl("ca1", "https").status, 0);
  EXPECT_THAT(supervisor.log(), HasSubstr("TLS certificate reloaded"));
}

TEST_F(TlsTest, AKeyThatIsNotTheCertificatesStopsTheSupervisorAtStart) {
  const std::string supervisor = Runfile("supervisor/supervisor");
  ShellResult mismatched = RunShell(absl::StrCat(supervisor, " --data-dir=", dir_, "/data --listen=127.0.0.1:0 --tls-cert=",
                                                 dir_, "/s1.pem --tls-key=", dir_, "/s2.key 2>&1"));
  EXPECT_NE(mismatched.status, 0);
  EXPECT_THAT(mismatched.out, HasSubstr("is not the private key of the certificate"));
  ShellResult half = RunShell(absl::StrCat(supervisor, " --data-dir=", dir_, "/data --listen=127.0.0.1:0 --tls-cert=",
                                           dir_, "/s1.pem 2>&1"));
  EXPECT_NE(half.status, 0);
  EXPECT_THAT(half.out, HasSubstr("needs both a certificate"));
  ShellResult not_pem = RunShell(absl::StrCat(supervisor, " --data-dir=", dir_, "/data --listen=127.0.0.1:0 --tls-cert=",
                                              dir_, "/san.ext --tls-key=", dir_, "/s1.key 2>&1"));
  EXPECT_NE(not_pem.status, 0);
  EXPECT_THAT(not_pem.out, HasSubstr("no certificate in it"));
}

}  // namespace
}  // namespace isobar::testing
