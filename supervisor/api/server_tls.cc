#include "supervisor/api/server_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace isobar::supervisor {
namespace {

// OpenSSL's first queued error, as text (and the queue emptied).
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "not PEM";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

}  // namespace

absl::Status CheckServerTlsFiles(const ServerTlsFiles& files) {
  if (files.cert_path.empty() || files.key_path.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate (--tls-cert) and its private key (--tls-key)");
  }
  BIO* cert_file = BIO_new_file(files.cert_path.c_str(), "r");
  if (cert_file == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat("--tls-cert ", files.cert_path, ": cannot read it"));
  }
  X509* cert = PEM_read_bio_X509(cert_file, nullptr, nullptr, nullptr);
  BIO_free(cert_file);
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-cert ", files.cert_path, ": no certificate in it (", OpenSslError(), ")"));
  }
  BIO* key_file = BIO_new_file(files.key_path.c_str(), "r");
  if (key_file == nullptr) {
    ERR_clear_error();
    X509_free(cert);
    return absl::InvalidArgumentError(absl::StrCat("--tls-key ", files.key_path, ": cannot read it"));
  }
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_file, nullptr, nullptr, nullptr);
  BIO_free(key_file);
  absl::Status status = absl::OkStatus();
  if (key == nullptr) {
    status = absl::InvalidArgumentError(absl::StrCat("--tls-key ", files.key_path, ": no private key in it (", OpenSslError(), ")"));
  } else if (X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    status = absl::InvalidArgumentError(
        absl::StrCat("--tls-key ", files.key_path, " is not the private key of the certificate in ", files.cert_path));
  }
  EVP_PKEY_free(key);
  X509_free(cert);
  return status;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerTlsCredentials(const ServerTlsFiles& files) {
  if (absl::Status checked = CheckServerTlsFiles(files); !checked.ok()) return checked;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_path, files.cert_path, files.reload_seconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::experimental::TlsServerCredentials(options);
  if (credentials == nullptr) return absl::InternalError("gRPC made no TLS credentials");
  return credentials;
}

}  // namespace isobar::supervisor
