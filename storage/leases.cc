#include "storage/leases.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "storage/pg_array.h"

namespace isobar::storage {
namespace {

std::string Interval(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d), " milliseconds"); }

absl::Status RollbackAnd(PgConn& conn, absl::Status status) {
  absl::StatusOr<PgResult> ignored = conn.Exec("ROLLBACK");
  (void)ignored;
  return status;
}

}  // namespace

absl::StatusOr<AcquiredLease> AcquireLease(PgPool& pool, DeploymentId deployment, const LeaseOptions& options) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  const std::string id = absl::StrCat(deployment.value());
  RETURN_IF_ERROR(conn->Exec("BEGIN").status());
  absl::StatusOr<PgResult> previous = conn->Exec(R"sql(
      SELECT holder, renewed_at > now() - $2::interval, round(extract(epoch FROM now() - renewed_at) * 1000)
      FROM isobar.leases WHERE deployment_id = $1 FOR UPDATE)sql",
                                                 {id, Interval(options.duration)});
  if (!previous.ok()) return RollbackAnd(*conn, previous.status());
  AcquiredLease acquired;
  if (previous->rows() == 1) acquired.previous_holder = std::string(previous->Get(0, 0));
  if (previous->rows() == 1 && previous->Get(0, 1) == "t" && previous->Get(0, 0) != options.holder) {
    const std::string holder(previous->Get(0, 0));
    if (!options.take_over) {
      return RollbackAnd(*conn, absl::UnavailableError(absl::StrCat(
                                    "deployment ", id, " is served by another supervisor (", holder,
                                    ", lease renewed ", previous->Get(0, 2),
                                    " ms ago); stop that one, or start this one with --take-over")));
    }
    acquired.displaced = holder;
  }
  absl::StatusOr<PgResult> taken = conn->Exec(R"sql(
      INSERT INTO isobar.leases (deployment_id, epoch, holder, renewed_at) VALUES ($1, 1, $2, now())
      ON CONFLICT (deployment_id) DO UPDATE SET epoch = isobar.leases.epoch + 1, holder = $2, renewed_at = now()
      RETURNING epoch)sql",
                                              {id, options.holder});
  if (!taken.ok()) return RollbackAnd(*conn, taken.status());
  RETURN_IF_ERROR(conn->Exec("COMMIT").status());
  acquired.epoch = LeaseEpoch{taken->GetInt(0, 0)};
  return acquired;
}

absl::StatusOr<std::vector<DeploymentId>> RenewLeases(PgPool& pool, const std::string& holder,
                                                      absl::Span<const std::pair<DeploymentId, LeaseEpoch>> held) {
  std::vector<DeploymentId> kept;
  if (held.empty()) return kept;
  PgArrayBuilder ids, epochs;
  for (const auto& [deployment, epoch] : held) {
    ids.Int(deployment.value());
    epochs.Int(epoch.epoch);
  }
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  ASSIGN_OR_RETURN(PgResult renewed, conn->Exec(R"sql(
      UPDATE isobar.leases AS l SET renewed_at = now()
      FROM UNNEST($2::bigint[], $3::bigint[]) AS h(deployment_id, epoch)
      WHERE l.deployment_id = h.deployment_id AND l.epoch = h.epoch AND l.holder = $1
      RETURNING l.deployment_id)sql",
                                                {holder, ids.Build(), epochs.Build()}));
  for (int r = 0; r < renewed.rows(); ++r) kept.emplace_back(renewed.GetInt(r, 0));
  return kept;
}

absl::Status ReleaseLeases(PgPool& pool, const std::string& holder,
                           absl::Span<const std::pair<DeploymentId, LeaseEpoch>> held) {
  if (held.empty()) return absl::OkStatus();
  PgArrayBuilder ids, epochs;
  for (const auto& [deployment, epoch] : held) {
    ids.Int(deployment.value());
    epochs.Int(epoch.epoch);
  }
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  return conn
      ->Exec(R"sql(
      UPDATE isobar.leases AS l SET renewed_at = 'epoch'
      FROM UNNEST($2::bigint[], $3::bigint[]) AS h(deployment_id, epoch)
      WHERE l.deployment_id = h.deployment_id AND l.epoch = h.epoch AND l.holder = $1)sql",
             {holder, ids.Build(), epochs.Build()})
      .status();
}

absl::Status CheckNoOtherLiveHolder(PgPool& pool, const LeaseOptions& options) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool.Acquire());
  ASSIGN_OR_RETURN(PgResult others, conn->Exec(R"sql(
      SELECT holder, count(*) FROM isobar.leases
      WHERE holder <> $1 AND holder <> '' AND renewed_at > now() - $2::interval
      GROUP BY holder ORDER BY holder)sql",
                                               {options.holder, Interval(options.duration)}));
  if (others.rows() == 0) return absl::OkStatus();
  std::vector<std::string> named;
  for (int r = 0; r < others.rows(); ++r) {
    named.push_back(absl::StrCat(others.Get(r, 0), " (", others.Get(r, 1), " deployments)"));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "another supervisor is serving deployments of this database: ", absl::StrJoin(named, ", "),
      ". Stop it first, or start this one with --take-over (it then waits for their leases to lapse)"));
}

}  // namespace isobar::storage
