#include "bench/pgbench.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/process.h"
#include "base/testing/temp_dir.h"
#include "storage/embedded_postgres.h"

namespace isobar::bench {

absl::StatusOr<PgbenchResult> RunPgbench(const std::string& socket_dir, const std::string& script, int clients,
                                         absl::Duration duration) {
  absl::StatusOr<std::string> bin = storage::FindPostgresBinDir();
  if (!bin.ok()) return bin.status();
  testing::TempDir dir;
  const std::string script_path = dir.path() + "/script.sql";
  std::ofstream(script_path) << script << "\n";
  int out = open((dir.path() + "/out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  SpawnOptions options;
  options.argv = {*bin + "/pgbench", "-n", "-h", socket_dir, "-U", "isobar", "-d", "isobar",
                  "-c", absl::StrCat(clients), "-j", absl::StrCat(std::min(clients, 2)),
                  "-T", absl::StrCat(absl::ToInt64Seconds(duration)), "-f", script_path, "-l",
                  "--log-prefix", dir.path() + "/log"};
  options.stdout_fd = out;
  options.stderr_fd = out;
  absl::StatusOr<ChildProcess> child = Spawn(options);
  close(out);
  if (!child.ok()) return child.status();
  absl::StatusOr<std::optional<ExitStatus>> status = child->Wait(absl::InfiniteDuration());
  std::stringstream output;
  output << std::ifstream(dir.path() + "/out.txt").rdbuf();
  if (!status.ok() || !(*status)->Success()) return absl::InternalError("pgbench failed: " + output.str());
  PgbenchResult result;
  for (absl::string_view line : absl::StrSplit(output.str(), '\n')) {
    if (line.rfind("tps = ", 0) == 0) {
      absl::string_view number = line.substr(6, line.find(' ', 6) - 6);
      if (!absl::SimpleAtod(number, &result.tps)) return absl::InternalError("cannot read pgbench's tps");
    }
  }
  // Per-transaction logs: "client_id transaction_no time script_no time_epoch time_us" (time in µs).
  std::vector<double> latencies;
  DIR* d = opendir(dir.path().c_str());
  while (struct dirent* entry = readdir(d)) {
    if (std::string(entry->d_name).rfind("log", 0) != 0) continue;
    std::ifstream log(dir.path() + "/" + entry->d_name);
    std::string line;
    while (std::getline(log, line)) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
      double us;
      if (fields.size() >= 3 && absl::SimpleAtod(fields[2], &us)) latencies.push_back(us);
    }
  }
  closedir(d);
  if (latencies.empty()) return absl::InternalError("pgbench wrote no transaction log");
  std::sort(latencies.begin(), latencies.end());
  result.p50_us = latencies[latencies.size() / 2];
  return result;
}

}  // namespace isobar::bench
