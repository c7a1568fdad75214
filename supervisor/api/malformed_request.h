// Requests that are not valid protobuf answer INVALID_ARGUMENT, not INTERNAL.
//
//   builder.experimental().SetInterceptorCreators(MalformedRequestInterceptors());
//
// gRPC's generated handlers parse the request before any code of ours runs and fail the call when it
// does not parse: INTERNAL from synchronous handlers ("the server broke"), an empty UNIMPLEMENTED from
// callback ones ("no such method"); both hide that the client's own bytes were wrong. This server
// interceptor sees that no message arrived (POST_RECV_MESSAGE with none) and rewrites that call's
// status as INVALID_ARGUMENT, with an
// ErrorDetail (kind INVALID_REQUEST, not retryable) in the "isobar-error-bin" trailer as every error
// of ours has. Unary methods only: on a stream, "no message" is also how the client's end arrives.
#ifndef ISOBAR_SUPERVISOR_API_MALFORMED_REQUEST_H_
#define ISOBAR_SUPERVISOR_API_MALFORMED_REQUEST_H_

#include <memory>
#include <vector>

#include "grpcpp/support/server_interceptor.h"

namespace isobar::supervisor {

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> MalformedRequestInterceptors();

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_MALFORMED_REQUEST_H_
