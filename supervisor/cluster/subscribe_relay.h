// A Functions.Subscribe stream relayed to the member that serves its deployment (placement.h):
// the client's requests go there, its transitions come back, and its end (status and trailers) is
// the stream's end. Reads one transition at a time, the next once the client was sent the last, so a
// slow client holds the member's stream back rather than our memory.
#ifndef ISOBAR_SUPERVISOR_CLUSTER_SUBSCRIBE_RELAY_H_
#define ISOBAR_SUPERVISOR_CLUSTER_SUBSCRIBE_RELAY_H_

#include <functional>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "isobar/v1/api.grpc.pb.h"
#include "supervisor/reactivity/subscription.h"

namespace isobar::supervisor {

// Starts the relay on `channel` with the caller's metadata (PrepareForward) and sends `first`.
// `not_reached` runs if the member could not be reached (the stream then ends UNAVAILABLE).
std::shared_ptr<Relay> StartSubscribeRelay(std::shared_ptr<grpc::Channel> channel, const grpc::ServerContextBase& caller,
                                           const std::string& self, isobar::v1::SubscribeRequest first,
                                           std::weak_ptr<RelaySink> sink, std::function<void()> not_reached);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_CLUSTER_SUBSCRIBE_RELAY_H_
