// TLS for the gRPC API (issue 21, item 1): the server's certificate chain and private key from PEM
// files, handed to gRPC's FileWatcherCertificateProvider, which re-reads them every
// `reload_seconds` and uses new ones for new connections once both files changed together (a
// certificate renewed in place, by cert-manager or certbot, needs no restart and no signal).
//
//   ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
//                    ServerTlsCredentials({.cert_path = "...", .key_path = "...", .reload_seconds = 10}));
//   builder.AddListeningPort(address, credentials, &port);
//
// The files are checked before serving (readable, PEM, the key matching the certificate), so a
// mistake stops the supervisor with its reason instead of failing every handshake later.
#ifndef ISOBAR_SUPERVISOR_API_SERVER_TLS_H_
#define ISOBAR_SUPERVISOR_API_SERVER_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace isobar::supervisor {

struct ServerTlsFiles {
  std::string cert_path;  // the server's certificate chain, leaf first (PEM)
  std::string key_path;   // its private key (PEM)
  unsigned int reload_seconds = 10;
};

// INVALID_ARGUMENT naming the file and what is wrong with it.
absl::Status CheckServerTlsFiles(const ServerTlsFiles& files);

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerTlsCredentials(const ServerTlsFiles& files);

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_API_SERVER_TLS_H_
