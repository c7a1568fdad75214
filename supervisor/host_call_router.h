// Serves host calls: the things user code asks of the outside world, by op name.
//
// Dispatch is a static table from op to handler; an op not in it is UNIMPLEMENTED, and no name is
// ever built from input. Errors that could reveal internals (INTERNAL, UNAVAILABLE, ...) reach the
// worker as "internal error; reference = <id>"; the details are logged here only (STYLE.md §5.4).
//
// Ops today:
//   isobar/echo  args: any JSON value. Appends it to isobar.echo_log and returns
//                {"echo": <args>, "row": <id>}. The walking skeleton's proof of a full round trip.
#ifndef ISOBAR_SUPERVISOR_HOST_CALL_ROUTER_H_
#define ISOBAR_SUPERVISOR_HOST_CALL_ROUTER_H_

#include <atomic>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/strong_id.h"
#include "isobar/worker/v1/worker.pb.h"
#include "storage/pg_pool.h"

namespace isobar::supervisor {

class HostCallRouter {
 public:
  explicit HostCallRouter(storage::PgPool& pg) : pg_(pg) {}  // `pg` must outlive the router

  // Thread-safe. The caller has checked that `call` belongs to an invocation `worker` is running.
  isobar::worker::v1::HostResult Handle(WorkerId worker, const isobar::worker::v1::HostCall& call);

 private:
  absl::StatusOr<std::string> Echo(WorkerId worker, absl::string_view args_json);

  storage::PgPool& pg_;
  std::atomic<uint64_t> next_reference_{1};
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_HOST_CALL_ROUTER_H_
