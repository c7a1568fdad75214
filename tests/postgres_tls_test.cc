// An external PostgreSQL reached over TLS (issue 21, item 1): a PostgreSQL that accepts TCP
// connections with TLS only (hostssl), with a certificate made by the openssl tool for this test.
// A supervisor given `sslmode=verify-full` and the right CA serves; one without TLS, and one trusting
// another CA, stop at start and say why.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/embedded_postgres.h"
#include "tests/supervisor_fixture.h"

namespace isobar::testing {
namespace {

using ::testing::HasSubstr;

// A TCP port nobody listens on now (the server may lose it to another process before it binds:
// the caller tries again with another).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

void RunIn(const std::string& dir, const std::string& command) {
  ShellResult result = RunShell(absl::StrCat("cd ", dir, " && ", command, " 2>&1"));
  ASSERT_EQ(result.status, 0) << command << "\n" << result.out;
}

TEST(PostgresTlsTest, TheSupervisorReachesAPostgresThatAcceptsTlsOnlyAndChecksItsCertificate) {
  TempDir dir;
  storage::EmbeddedPostgresOptions options;
  options.data_dir = dir.path() + "/pg";
  {  // The cluster, made once without TLS.
    absl::StatusOr<std::unique_ptr<storage::EmbeddedPostgres>> made = storage::EmbeddedPostgres::Start(options);
    ASSERT_TRUE(made.ok()) << made.status();
  }
  // Its certificate for localhost, by a CA of this test; another CA besides.
  const std::string certs = dir.path() + "/certs";
  ASSERT_EQ(RunShell("mkdir -p " + certs).status, 0);
  for (const char* ca : {"ca", "other"}) {
    RunIn(certs, absl::StrCat("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ", ca,
                            ".key -out ", ca, ".pem -days 2 -subj /CN=isobar-pg-test-", ca));
  }
  RunIn(certs, "echo subjectAltName=DNS:localhost > san.ext");
  RunIn(certs, "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
             "-subj /CN=localhost");
  RunIn(certs, "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
             "-extfile san.ext");
  // PostgreSQL reads server.crt and server.key from its data directory; the key only if its own and
  // private.
  const std::string pgdata = options.data_dir + "/pgdata";
  RunIn(certs, absl::StrCat("cp server.crt server.key ", pgdata, "/ && chmod 0600 ", pgdata, "/server.key"));
  if (geteuid() == 0) {
    const passwd* postgres = getpwnam(options.os_user.c_str());
    ASSERT_NE(postgres, nullptr);
    ASSERT_EQ(chown((pgdata + "/server.key").c_str(), postgres->pw_uid, postgres->pw_gid), 0);
    ASSERT_EQ(chown((pgdata + "/server.crt").c_str(), postgres->pw_uid, postgres->pw_gid), 0);
  }
  options.settings = {"listen_addresses=127.0.0.1", "ssl=on"};
  options.hba_lines = {"hostssl isobar isobar 127.0.0.1/32 trust", "host all all 127.0.0.1/32 reject"};
  std::unique_ptr<storage::EmbeddedPostgres> pg;
  for (int attempt = 0; attempt < 3 && pg == nullptr; ++attempt) {
    options.port = UnusedPort();
    absl::StatusOr<std::unique_ptr<storage::EmbeddedPostgres>> started = storage::EmbeddedPostgres::Start(options);
    if (started.ok()) pg = *std::move(started);
  }
  ASSERT_NE(pg, nullptr);
  const std::string url = absl::StrCat("host=localhost port=", options.port, " user=isobar dbname=isobar");

  SupervisorProcess secure({.workers = 1,
                            .extra_args = {absl::StrCat("--postgres-url=", url, " sslmode=verify-full sslrootcert=",
                                                        certs, "/ca.pem")}});
  ASSERT_TRUE(secure.Start().ok()) << secure.log();
  absl::StatusOr<std::string> key = secure.Deploy("over-tls", "tests/apps/chat.modules");
  ASSERT_TRUE(key.ok()) << key.status() << secure.log();
  auto stub = isobar::v1::Functions::NewStub(grpc::CreateChannel(secure.address(), grpc::InsecureChannelCredentials()));
  FunctionResult incremented = CallFunction(*stub, CallKind::kMutation,
                                            {.deployment = "over-tls", .key = *key, .path = "counters:increment",
                                             .args_json = R"({"name":"x"})"});
  EXPECT_TRUE(incremented.status.ok()) << incremented.status.error_message();
  ASSERT_TRUE(secure.Stop().ok());

  // Without TLS: PostgreSQL refuses the connection; trusting another CA: we refuse the server.
  const std::string supervisor = Runfile("supervisor/supervisor");
  ShellResult plain = RunShell(absl::StrCat(supervisor, " --data-dir=", dir.path(), "/plain --listen=127.0.0.1:0 ",
                                            "'--postgres-url=", url, " sslmode=disable' 2>&1"));
  EXPECT_NE(plain.status, 0);
  EXPECT_THAT(plain.out, HasSubstr("no encryption"));
  ShellResult other = RunShell(absl::StrCat(supervisor, " --data-dir=", dir.path(), "/other --listen=127.0.0.1:0 ",
                                            "'--postgres-url=", url, " sslmode=verify-full sslrootcert=", certs,
                                            "/other.pem' 2>&1"));
  EXPECT_NE(other.status, 0);
  EXPECT_THAT(other.out, HasSubstr("certificate verify failed"));
}

}  // namespace
}  // namespace isobar::testing
