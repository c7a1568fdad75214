// What the gRPC health service (grpc.health.v1) tells, kept in one place:
//   - the server ("") and each of its services (isobar.v1.Functions, ...): SERVING while PostgreSQL
//     answers and the supervisor is not draining;
//   - each deployment ("isobar.deployment/<name>"): SERVING under the same conditions while this
//     supervisor owns it (holds its writer lease), NOT_SERVING otherwise.
//
//   ServingStatus status({"", "isobar.v1.Functions", ...});
//   live.SetOwnershipObserver([&](auto& name, bool owned) { status.SetOwned(name, owned); });
//   status.Attach(server->GetHealthCheckService());   // applies what it knows so far
//   pg_monitor.SetListener([&](bool up) { status.SetDatabaseAvailable(up); });
//   ... status.SetDraining();                         // at a stop signal: everything NOT_SERVING
//
// Every change recomputes each name from these facts, under one lock, so that no order of events
// (PostgreSQL coming back after a deployment moved to another supervisor, say) leaves a name SERVING
// that should not be. (gRPC's own SetServingStatus(bool) would set every name, owned or not.)
// Thread-safe.
#ifndef ISOBAR_SUPERVISOR_API_SERVING_STATUS_H_
#define ISOBAR_SUPERVISOR_API_SERVING_STATUS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/health_check_service_interface.h"

namespace isobar::supervisor {

class ServingStatus {
 public:
  // `services`: the names that follow the server's status ("" for the server itself).
  explicit ServingStatus(std::vector<std::string> services) : services_(std::move(services)) {}

  // The server's health service (not owned; it must outlive this object's use), or null (off).
  void Attach(grpc::HealthCheckServiceInterface* health) ABSL_LOCKS_EXCLUDED(mu_);
  void SetDatabaseAvailable(bool available) ABSL_LOCKS_EXCLUDED(mu_);
  void SetDraining() ABSL_LOCKS_EXCLUDED(mu_);
  void SetOwned(const std::string& deployment, bool owned) ABSL_LOCKS_EXCLUDED(mu_);

  bool database_available() const ABSL_LOCKS_EXCLUDED(mu_);
  bool draining() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void ApplyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> services_;
  mutable absl::Mutex mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool database_available_ ABSL_GUARDED_BY(mu_) = true;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, bool> owned_ ABSL_GUARDED_BY(mu_);  // every deployment ever told, by name
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_SERVING_STATUS_H_
