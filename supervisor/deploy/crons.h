// Deploy-time registration of a deployment's crons (CONVEX_ABI.md §3.4): the crons export is checked
// (known schedule kinds with valid fields, each naming a mutation or action of the pushed code) and
// stored as the `_cron_jobs` system table in one transaction: new crons added, changed ones replaced,
// removed ones deleted. Running them is the scheduler's (issue 7), which keeps its own state there.
#ifndef ISOBAR_SUPERVISOR_DEPLOY_CRONS_H_
#define ISOBAR_SUPERVISOR_DEPLOY_CRONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/validator.h"
#include "storage/value.h"
#include "supervisor/deploy/code_version.h"
#include "supervisor/deploy/live_deployments.h"

namespace isobar::supervisor {

struct CronSpec {
  std::string name;      // the identifier given to crons.interval(...) etc.
  std::string function;  // "mod:fn"
  storage::Value args;   // one Convex JSON object
  storage::Value schedule;
};

// The crons of an analysis (worker/analyze.h), checked against `code`. INVALID_ARGUMENT names the cron.
absl::StatusOr<std::vector<CronSpec>> ParseCrons(const storage::Value& analysis, const CodeVersion& code,
                                                 const storage::TableOfId& ids);

// Makes `_cron_jobs` hold exactly `crons`.
absl::Status RegisterCrons(LiveDeployment& deployment, const std::vector<CronSpec>& crons);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_DEPLOY_CRONS_H_
