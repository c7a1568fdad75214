// The admin key: a random bearer token that every Admin call (and, until deployments have their own
// keys, every call) must carry as `authorization: Bearer <key>`.
//
// It is created once, with 256 bits from getrandom, in <data-dir>/admin_key (mode 0600), and read from
// there on later starts; isobarctl reads the same file to talk to a local development server.
#ifndef ISOBAR_SUPERVISOR_API_ADMIN_KEY_H_
#define ISOBAR_SUPERVISOR_API_ADMIN_KEY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"

namespace isobar::supervisor {

absl::StatusOr<std::string> LoadOrCreateAdminKey(const std::string& path);

// OK when the call carries `authorization: Bearer <key>`; UNAUTHENTICATED otherwise. The comparison
// takes the same time wherever the first difference is.
grpc::Status CheckAdminKey(const grpc::ServerContextBase& context, absl::string_view key);

// The key of `authorization: Bearer <key>`, or empty.
std::string BearerToken(const grpc::ServerContextBase& context);

// A Functions call's credentials. The deployment's key (API or admin key) travels as `isobar-api-key:
// <key>`, and then `authorization: Bearer <JWT>` is the end user's token; without `isobar-api-key`,
// `authorization: Bearer <key>` is the key (and there is no user token).
std::string CallerKey(const grpc::ServerContextBase& context);
std::string UserToken(const grpc::ServerContextBase& context);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_ADMIN_KEY_H_
