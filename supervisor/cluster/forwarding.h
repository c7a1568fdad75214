// Forwarding a client's gRPC call to the member that serves its deployment (placement.h).
//
//   Peers peers(grpc::InsecureChannelCredentials());
//   grpc::ClientContext* out = ...;
//   PrepareForward(*server_context, placement.self().holder, *out);
//   stub(peers.Channel(route.member.grpc_address))->async()->Query(out, request, response, [&](grpc::Status s) {
//     ReturnTrailers(*out, *server_context);
//     if (NotReached(s, *out)) placement.Unreachable(route.member);
//     ...finish with s...
//   });
//
// The call travels with the caller's own credentials (its key, its user's token): the member that
// serves the deployment checks them as if the client had called it, so forwarding widens nobody's
// access. The mark "isobar-forwarded" keeps a forwarded call from being forwarded again; a client
// that sends it itself only asks the member it reached to serve the deployment or say UNAVAILABLE.
#ifndef ISOBAR_SUPERVISOR_CLUSTER_FORWARDING_H_
#define ISOBAR_SUPERVISOR_CLUSTER_FORWARDING_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace isobar::supervisor {

inline constexpr char kForwardedHeader[] = "isobar-forwarded";

// How a member dials the others: as clients dial it (TLS when it serves TLS, trusting the CA in
// `ca_file`, or the system's roots if empty).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PeerCredentials(bool tls, const std::string& ca_file);

// One channel per member address, made on first use. Thread-safe.
class Peers {
 public:
  explicit Peers(std::shared_ptr<grpc::ChannelCredentials> credentials) : credentials_(std::move(credentials)) {}
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) ABSL_LOCKS_EXCLUDED(mu_);

  // For metrics: a call or stream sent on; one that did not reach its member.
  void CountForward() { forwarded_.fetch_add(1, std::memory_order_relaxed); }
  void CountUnreached() { unreached_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }
  uint64_t unreached() const { return unreached_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> forwarded_{0}, unreached_{0};
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_ ABSL_GUARDED_BY(mu_);
};

// Whether the call came from another member.
bool IsForwarded(const grpc::ServerContextBase& context);
// The caller's metadata (keys, tokens; not gRPC's own), its deadline, and the forwarded mark by `self`.
void PrepareForward(const grpc::ServerContextBase& in, const std::string& self, grpc::ClientContext& out);
// The serving member's trailing metadata (error detail, request id), for the caller.
std::vector<std::pair<std::string, std::string>> ForwardedTrailers(const grpc::ClientContext& from);
// ... onto the caller's call.
void ReturnTrailers(const grpc::ClientContext& from, grpc::ServerContextBase& to);
// A failure of the forward itself (the member was not reached or went away), not the member's answer.
bool NotReached(const grpc::Status& status, const grpc::ClientContext& context);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_CLUSTER_FORWARDING_H_
