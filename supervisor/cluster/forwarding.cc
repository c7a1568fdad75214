#include "supervisor/cluster/forwarding.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace isobar::supervisor {
namespace {

absl::string_view View(const grpc::string_ref& s) { return absl::string_view(s.data(), s.size()); }

// gRPC's own headers, which the forwarding channel sets by itself.
bool Transport(absl::string_view key) {
  return absl::StartsWith(key, ":") || absl::StartsWith(key, "grpc-") || key == "te" || key == "content-type" ||
         key == "user-agent" || key == "host" || key == kForwardedHeader;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> PeerCredentials(bool tls, const std::string& ca_file) {
  if (!tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!ca_file.empty()) {
    std::ifstream in(ca_file);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().empty()) return absl::InvalidArgumentError(absl::StrCat("--cluster-ca: cannot read ", ca_file));
    options.pem_root_certs = pem.str();
  }
  return grpc::SslCredentials(options);
}

std::shared_ptr<grpc::Channel> Peers::Channel(const std::string& address) {
  absl::MutexLock lock(&mu_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments arguments;
    // The serving member enforces the limits on what it answers; the relay adds none of its own.
    arguments.SetMaxReceiveMessageSize(-1);
    arguments.SetMaxSendMessageSize(-1);
    channel = grpc::CreateCustomChannel(address, credentials_, arguments);
  }
  return channel;
}

bool IsForwarded(const grpc::ServerContextBase& context) {
  return context.client_metadata().count(kForwardedHeader) > 0;
}

void PrepareForward(const grpc::ServerContextBase& in, const std::string& self, grpc::ClientContext& out) {
  for (const auto& [key, value] : in.client_metadata()) {
    if (Transport(View(key))) continue;
    out.AddMetadata(std::string(View(key)), std::string(View(value)));
  }
  out.AddMetadata(kForwardedHeader, self);
  out.set_deadline(in.deadline());
}

std::vector<std::pair<std::string, std::string>> ForwardedTrailers(const grpc::ClientContext& from) {
  std::vector<std::pair<std::string, std::string>> trailers;
  for (const auto& [key, value] : from.GetServerTrailingMetadata()) {
    if (!Transport(View(key))) trailers.emplace_back(View(key), View(value));
  }
  return trailers;
}

void ReturnTrailers(const grpc::ClientContext& from, grpc::ServerContextBase& to) {
  for (auto& [key, value] : ForwardedTrailers(from)) to.AddTrailingMetadata(key, value);
}

bool NotReached(const grpc::Status& status, const grpc::ClientContext& context) {
  // Our own errors always carry their detail; gRPC's transport failures do not.
  return status.error_code() == grpc::StatusCode::UNAVAILABLE &&
         context.GetServerTrailingMetadata().count("isobar-error-bin") == 0;
}

}  // namespace isobar::supervisor
