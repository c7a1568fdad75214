#include "storage/embedded_postgres.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <postgresql/libpq-fe.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "storage/pg_conn.h"

namespace isobar::storage {
namespace {

constexpr char kComponent[] = "postgres";

absl::Status ErrnoError(absl::string_view what, int err) {
  std::string message = absl::StrCat(what, ": ", strerror(err));
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  if (err == ENOENT) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

struct RunAs {
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

absl::StatusOr<RunAs> ResolveUser(const std::string& os_user) {
  RunAs run_as;
  if (geteuid() != 0) return run_as;
  struct passwd pwd;
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwnam_r(os_user.c_str(), &pwd, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("PostgreSQL cannot run as root and the account '", os_user,
                     "' does not exist (deploy/bootstrap installs postgresql, which creates it)"));
  }
  run_as.uid = pwd.pw_uid;
  run_as.gid = pwd.pw_gid;
  return run_as;
}

// Puts `lines` first in the pg_hba.conf at `path`, unless it starts with them already.
absl::Status PrependHbaLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ifstream in(path);
  std::stringstream existing;
  existing << in.rdbuf();
  const std::string wanted = absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
  if (!in || absl::StartsWith(existing.str(), wanted)) return in ? absl::OkStatus() : absl::NotFoundError(path);
  std::ofstream out(path, std::ios::trunc);  // the file keeps its owner and mode
  out << wanted << existing.str();
  return out.good() ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

// Creates `path` if missing with `mode`, owned by `run_as` when set, and returns its absolute path.
absl::Status MakeDir(const std::string& path, mode_t mode, const RunAs& run_as) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return ErrnoError(absl::StrCat("mkdir ", path), errno);
  if (chmod(path.c_str(), mode) != 0) return ErrnoError(absl::StrCat("chmod ", path), errno);
  if (run_as.uid.has_value() && chown(path.c_str(), *run_as.uid, *run_as.gid) != 0) {
    return ErrnoError(absl::StrCat("chown ", path), errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Absolute(const std::string& path) {
  char* resolved = realpath(path.c_str(), nullptr);
  if (resolved == nullptr) return ErrnoError(absl::StrCat("realpath ", path), errno);
  std::string out(resolved);
  free(resolved);
  return out;
}

std::string TailOfFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > max_bytes) text = text.substr(text.size() - max_bytes);
  return text;
}

// A server from an earlier run of ours may still be shutting down (our parent-death signal asks it to
// stop when its supervisor dies): wait for it to exit before starting another on the same directory.
absl::Status AwaitPreviousServer(const std::string& pgdata, absl::Duration timeout) {
  std::ifstream lock_file(pgdata + "/postmaster.pid");
  std::string first_line;
  if (!lock_file || !std::getline(lock_file, first_line)) return absl::OkStatus();
  int pid = 0;
  if (!absl::SimpleAtoi(first_line, &pid) || pid <= 0) return absl::OkStatus();
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return absl::OkStatus();  // gone already (a stale lock file is PostgreSQL's to clear)
  ISOBAR_LOG(kInfo, kComponent) << "waiting for the previous PostgreSQL (pid " << pid << ") to exit";
  struct pollfd exited = {pidfd, POLLIN, 0};
  const int ready = poll(&exited, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  close(pidfd);
  if (ready <= 0) {
    return absl::UnavailableError(absl::StrCat("PostgreSQL pid ", pid, " still runs on ", pgdata, " after ",
                                               absl::FormatDuration(timeout), "; stop it first"));
  }
  return absl::OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Runs a PostgreSQL program to completion with its output appended to the log.
absl::Status RunToCompletion(std::vector<std::string> argv, const RunAs& run_as, int log_fd,
                             const std::string& working_dir, const std::string& log_path) {
  SpawnOptions options;
  options.argv = std::move(argv);
  options.uid = run_as.uid;
  options.gid = run_as.gid;
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  options.working_dir = working_dir;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  if (!child.ok()) return child.status();
  ASSIGN_OR_RETURN(std::optional<ExitStatus> status, child->Wait(absl::InfiniteDuration()));
  if (!status->Success()) {
    return absl::InternalError(absl::StrCat(options.argv[0], " failed (", status->ToString(),
                                            "); the end of ", log_path, ":\n", TailOfFile(log_path, 2000)));
  }
  return absl::OkStatus();
}

absl::Status EnsureDatabase(const std::string& admin_conninfo) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(admin_conninfo));
  ASSIGN_OR_RETURN(PgResult exists, conn->Exec("SELECT 1 FROM pg_database WHERE datname = 'isobar'"));
  if (exists.rows() == 0) RETURN_IF_ERROR(conn->Exec("CREATE DATABASE isobar"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> FindPostgresBinDir() {
  const std::string root = "/usr/lib/postgresql";
  DIR* dir = opendir(root.c_str());
  if (dir == nullptr) {
    return absl::NotFoundError("no PostgreSQL server under /usr/lib/postgresql (deploy/bootstrap installs postgresql-15)");
  }
  int best = -1;
  while (struct dirent* entry = readdir(dir)) {
    int version = 0;
    if (absl::SimpleAtoi(entry->d_name, &version) && version > best &&
        FileExists(absl::StrCat(root, "/", entry->d_name, "/bin/postgres"))) {
      best = version;
    }
  }
  closedir(dir);
  if (best < 0) return absl::NotFoundError("no PostgreSQL server binary under /usr/lib/postgresql/*/bin");
  return absl::StrCat(root, "/", best, "/bin");
}

absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::Start(
    const EmbeddedPostgresOptions& options) {
  if (options.data_dir.empty()) return absl::InvalidArgumentError("EmbeddedPostgres: empty data_dir");
  std::string bin_dir = options.bin_dir;
  if (bin_dir.empty()) {
    ASSIGN_OR_RETURN(bin_dir, FindPostgresBinDir());
  }
  ASSIGN_OR_RETURN(RunAs run_as, ResolveUser(options.os_user));

  // data_dir: searchable (not listable) by the server's user, which owns only its two subdirectories.
  RETURN_IF_ERROR(MakeDir(options.data_dir, 0711, RunAs{}));
  ASSIGN_OR_RETURN(std::string data_dir, Absolute(options.data_dir));
  const std::string pgdata = data_dir + "/pgdata";
  const std::string pgrun = data_dir + "/pgrun";
  RETURN_IF_ERROR(MakeDir(pgdata, 0700, run_as));
  RETURN_IF_ERROR(MakeDir(pgrun, 0700, run_as));

  auto pg = std::unique_ptr<EmbeddedPostgres>(new EmbeddedPostgres());
  pg->log_path_ = data_dir + "/postgres.log";
  int log_fd = open(pg->log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return ErrnoError(absl::StrCat("open ", pg->log_path_), errno);
  struct LogFdCloser {
    int fd;
    ~LogFdCloser() { close(fd); }
  } log_fd_closer{log_fd};

  if (!FileExists(pgdata + "/PG_VERSION")) {
    ISOBAR_LOG(kInfo, kComponent) << "creating a new cluster in " << pgdata;
    absl::Status init = RunToCompletion(
        {bin_dir + "/initdb", "-D", pgdata, "-U", "isobar", "--auth-local=trust", "--auth-host=reject",
         "-E", "UTF8", "--locale=C", "--no-instructions"},
        run_as, log_fd, pgdata, pg->log_path_);
    if (absl::IsPermissionDenied(init)) {
      return absl::PermissionDeniedError(absl::StrCat(
          init.message(), ": the account '", options.os_user, "' cannot reach ", pgdata,
          "; choose a --data-dir whose parent directories it can search (not under /root)"));
    }
    RETURN_IF_ERROR(init);
    pg->created_ = true;
  }

  if (!options.hba_lines.empty()) RETURN_IF_ERROR(PrependHbaLines(pgdata + "/pg_hba.conf", options.hba_lines));
  RETURN_IF_ERROR(AwaitPreviousServer(pgdata, options.start_timeout));
  SpawnOptions server;
  server.argv = {bin_dir + "/postgres", "-D", pgdata, "-k", pgrun, "-c", "listen_addresses=",
                 "-c", "unix_socket_permissions=0700", "-c", absl::StrCat("port=", options.port)};
  for (const std::string& setting : options.settings) {
    server.argv.push_back("-c");
    server.argv.push_back(setting);
  }
  server.uid = run_as.uid;
  server.gid = run_as.gid;
  server.stdout_fd = log_fd;
  server.stderr_fd = log_fd;
  server.working_dir = pgdata;
  server.parent_death_signal = SIGINT;
  ASSIGN_OR_RETURN(pg->server_, Spawn(server));
  ISOBAR_LOG(kInfo, kComponent) << "started PostgreSQL pid " << pg->server_.pid() << " in " << pgdata;

  const std::string socket_conninfo = absl::StrCat("host=", pgrun, " port=", options.port, " user=isobar");
  // Wait until the server accepts connections, or exits, or the timeout passes. There is no
  // notification to wait on, so this probes, and fails at once if the server dies.
  const absl::Time deadline = absl::Now() + options.start_timeout;
  const std::string admin_conninfo = socket_conninfo + " dbname=postgres";
  for (;;) {
    PGPing ping = PQping(admin_conninfo.c_str());
    if (ping == PQPING_OK) break;
    ASSIGN_OR_RETURN(std::optional<ExitStatus> exited, pg->server_.Wait(absl::Milliseconds(5)));
    if (exited.has_value()) {
      return absl::UnavailableError(absl::StrCat("PostgreSQL exited during start-up (", exited->ToString(),
                                                 "); the end of ", pg->log_path_, ":\n",
                                                 TailOfFile(pg->log_path_, 2000)));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("PostgreSQL did not accept connections within ",
                                                      absl::FormatDuration(options.start_timeout),
                                                      "; see ", pg->log_path_));
    }
  }
  RETURN_IF_ERROR(EnsureDatabase(admin_conninfo));
  pg->conninfo_ = socket_conninfo + " dbname=isobar";
  return pg;
}

std::optional<ExitStatus> EmbeddedPostgres::ReapIfExited() {
  if (!server_.running()) return std::nullopt;
  const pid_t pid = server_.pid();
  absl::StatusOr<std::optional<ExitStatus>> status = server_.Wait(absl::ZeroDuration());
  if (!status.ok() || !status->has_value()) return std::nullopt;
  ISOBAR_LOG(kError, kComponent) << "PostgreSQL pid " << pid << " exited (" << (*status)->ToString()
                                 << "); see " << log_path_;
  return **status;
}

absl::Status EmbeddedPostgres::Stop() {
  if (!server_.running()) return absl::OkStatus();
  const pid_t pid = server_.pid();
  // Fast shutdown, then immediate shutdown, then SIGKILL.
  const std::pair<int, absl::Duration> steps[] = {
      {SIGINT, absl::Seconds(60)}, {SIGQUIT, absl::Seconds(10)}, {SIGKILL, absl::InfiniteDuration()}};
  for (const auto& [signal, grace] : steps) {
    RETURN_IF_ERROR(server_.Signal(signal));
    ASSIGN_OR_RETURN(std::optional<ExitStatus> status, server_.Wait(grace));
    if (status.has_value()) {
      ISOBAR_LOG(kInfo, kComponent) << "PostgreSQL pid " << pid << " stopped (" << status->ToString() << ")";
      return status->Success() ? absl::OkStatus()
                               : absl::InternalError(absl::StrCat("PostgreSQL ended with ", status->ToString()));
    }
    ISOBAR_LOG(kWarning, kComponent) << "PostgreSQL pid " << pid << " still running after signal " << signal;
  }
  return absl::InternalError("PostgreSQL did not stop");
}

EmbeddedPostgres::~EmbeddedPostgres() {
  absl::Status stopped = Stop();
  if (!stopped.ok()) {
    ISOBAR_LOG(kError, kComponent) << stopped;
  }
}

}  // namespace isobar::storage
