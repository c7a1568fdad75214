#include "storage/supervisors.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace isobar::storage {
namespace {

std::string Interval(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " milliseconds"); }

}  // namespace

absl::Status Heartbeat(PgPool& pool, const SupervisorRecord& self) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  return conn
      ->Exec(R"sql(
      INSERT INTO isobar.supervisors (holder, grpc_address, http_address) VALUES ($1, $2, $3)
      ON CONFLICT (holder) DO UPDATE SET grpc_address = $2, http_address = $3, heartbeat_at = now())sql",
             {self.holder, self.grpc_address, self.http_address})
      .status();
}

absl::Status LeaveCluster(PgPool& pool, const std::string& holder) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  return conn->Exec("UPDATE isobar.supervisors SET heartbeat_at = 'epoch' WHERE holder = $1", {holder}).status();
}

absl::StatusOr<std::vector<SupervisorRecord>> LiveSupervisors(PgPool& pool, absl::Duration within) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  ASSIGN_OR_RETURN(PgResult rows, conn->Exec(R"sql(
      SELECT holder, grpc_address, http_address FROM isobar.supervisors
      WHERE heartbeat_at > now() - $1::interval ORDER BY holder)sql",
                                             {Interval(within)}));
  std::vector<SupervisorRecord> live;
  for (int r = 0; r < rows.rows(); ++r) {
    live.push_back({std::string(rows.Get(r, 0)), std::string(rows.Get(r, 1)), std::string(rows.Get(r, 2))});
  }
  return live;
}

absl::StatusOr<std::optional<SupervisorRecord>> LiveLeaseHolder(PgPool& pool, absl::string_view name,
                                                                absl::Duration lease_duration) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  ASSIGN_OR_RETURN(PgResult rows, conn->Exec(R"sql(
      SELECT l.holder, coalesce(s.grpc_address, ''), coalesce(s.http_address, '')
      FROM isobar.deployments d JOIN isobar.leases l ON l.deployment_id = d.id
      LEFT JOIN isobar.supervisors s ON s.holder = l.holder
      WHERE d.name = $1 AND l.renewed_at > now() - $2::interval)sql",
                                             {std::string(name), Interval(lease_duration)}));
  if (rows.rows() == 0) return std::nullopt;
  return SupervisorRecord{std::string(rows.Get(0, 0)), std::string(rows.Get(0, 1)), std::string(rows.Get(0, 2))};
}

absl::StatusOr<std::vector<std::string>> LapsedDeployments(PgPool& pool, absl::Duration lease_duration) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  // ReleaseLeases sets renewed_at to the epoch: those were given up, not lapsed.
  ASSIGN_OR_RETURN(PgResult rows, conn->Exec(R"sql(
      SELECT d.name FROM isobar.leases l JOIN isobar.deployments d ON d.id = l.deployment_id
      WHERE l.renewed_at <= now() - $1::interval AND l.renewed_at > 'epoch'::timestamptz
      ORDER BY d.name)sql",
                                             {Interval(lease_duration)}));
  std::vector<std::string> names;
  for (int r = 0; r < rows.rows(); ++r) names.emplace_back(rows.Get(r, 0));
  return names;
}

}  // namespace isobar::storage
