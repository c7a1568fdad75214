// A private PostgreSQL cluster that the supervisor starts, owns and stops (the zero-config default when
// no --postgres-url is given).
//
//   EmbeddedPostgresOptions options;
//   options.data_dir = "/var/lib/isobar";
//   ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedPostgres> pg, EmbeddedPostgres::Start(options));
//   ASSIGN_OR_RETURN(auto conn, PgConn::Connect(pg->conninfo()));
//   ...
//   RETURN_IF_ERROR(pg->Stop());   // also done by the destructor
//
// Layout under data_dir: pgdata/ (the cluster, created by initdb on first start and reused after),
// pgrun/ (the unix socket; PostgreSQL listens on no TCP port), postgres.log (its output).
// Local connections are trusted, so the socket directory is the boundary: it is mode 0700 and owned by
// the server's user.
//
// PostgreSQL refuses to run as root. When we are root, initdb and postgres run as `os_user` (the
// `postgres` account Debian's package creates), which must be able to reach data_dir: its ancestors
// must be searchable by that user (/root is not).
//
// The server gets PR_SET_PDEATHSIG(SIGINT): if the process that started it dies, even by SIGKILL, the
// server shuts down fast (rolling back open transactions) rather than outliving us. So Start must be
// called from a thread that lives as long as the server should (the main thread).
#ifndef ISOBAR_STORAGE_EMBEDDED_POSTGRES_H_
#define ISOBAR_STORAGE_EMBEDDED_POSTGRES_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/process.h"

namespace isobar::storage {

struct EmbeddedPostgresOptions {
  std::string data_dir;
  // Directory with initdb and postgres; empty: the newest /usr/lib/postgresql/<version>/bin.
  std::string bin_dir;
  // The account to run as when we are root.
  std::string os_user = "postgres";
  absl::Duration start_timeout = absl::Seconds(60);
  // The server's port (its unix socket's name, and a TCP listener's if `settings` opens one).
  int port = 5432;
  // More server settings, "name=value" each, after ours (so they win): tests use them for a TCP
  // listener with TLS, as an external PostgreSQL is reached.
  std::vector<std::string> settings;
  // Lines put first in pg_hba.conf at each start (once), before initdb's own.
  std::vector<std::string> hba_lines;
};

class EmbeddedPostgres {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> Start(const EmbeddedPostgresOptions& options);
  ~EmbeddedPostgres();
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // Fast shutdown: open transactions roll back, the cluster is checkpointed. Idempotent.
  absl::Status Stop();

  // libpq connection string for the `isobar` database as the `isobar` superuser.
  const std::string& conninfo() const { return conninfo_; }
  // True when this Start ran initdb (a new cluster).
  bool created() const { return created_; }
  pid_t pid() const { return server_.pid(); }
  // Whether the server process has not been reaped yet.
  bool running() const { return server_.running(); }
  // Reaps the server if it has exited (it died: nobody else stops it); nullopt while it runs.
  std::optional<ExitStatus> ReapIfExited();
  const std::string& log_path() const { return log_path_; }

 private:
  EmbeddedPostgres() = default;

  ChildProcess server_;
  std::string conninfo_;
  std::string log_path_;
  bool created_ = false;
};

// The newest /usr/lib/postgresql/<version>/bin that has a postgres binary.
absl::StatusOr<std::string> FindPostgresBinDir();

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_EMBEDDED_POSTGRES_H_
