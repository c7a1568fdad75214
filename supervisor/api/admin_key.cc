#include "supervisor/api/admin_key.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/sha256.h"

namespace isobar::supervisor {
namespace {

constexpr char kPrefix[] = "isobar_admin_";

absl::StatusOr<std::string> ReadKey(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("open ", path, ": ", strerror(errno)));
  char buffer[256];
  ssize_t n = read(fd, buffer, sizeof(buffer));
  close(fd);
  if (n <= 0) return absl::DataLossError(absl::StrCat(path, " is empty or unreadable"));
  std::string key(absl::StripAsciiWhitespace(absl::string_view(buffer, static_cast<size_t>(n))));
  if (key.rfind(kPrefix, 0) != 0 || key.size() < sizeof(kPrefix) + 32) {
    return absl::DataLossError(absl::StrCat(path, " does not hold an Isobar admin key"));
  }
  return key;
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateAdminKey(const std::string& path) {
  absl::StatusOr<std::string> existing = ReadKey(path);
  if (existing.ok() || !absl::IsNotFound(existing.status())) return existing;
  unsigned char random[32];
  if (getrandom(random, sizeof(random), 0) != static_cast<ssize_t>(sizeof(random))) {
    return absl::InternalError(absl::StrCat("getrandom: ", strerror(errno)));
  }
  std::string key = absl::StrCat(
      kPrefix, absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(random), sizeof(random))));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadKey(path);  // another process created it first
    return absl::InternalError(absl::StrCat("create ", path, ": ", strerror(errno)));
  }
  std::string line = key + "\n";
  bool written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  if (!written) return absl::InternalError(absl::StrCat("write ", path, ": ", strerror(errno)));
  return key;
}

std::string BearerToken(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return "";
  absl::string_view given(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (given.substr(0, kBearer.size()) != kBearer) return "";
  return std::string(given.substr(kBearer.size()));
}

namespace {

std::optional<std::string> ApiKeyHeader(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("isobar-api-key");
  if (it == metadata.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

std::string CallerKey(const grpc::ServerContextBase& context) {
  std::optional<std::string> key = ApiKeyHeader(context);
  return key.has_value() ? *key : BearerToken(context);
}

std::string UserToken(const grpc::ServerContextBase& context) {
  return ApiKeyHeader(context).has_value() ? BearerToken(context) : std::string();
}

grpc::Status CheckAdminKey(const grpc::ServerContextBase& context, absl::string_view key) {
  static const grpc::Status kDenied(grpc::StatusCode::UNAUTHENTICATED,
                                    "this call needs the admin key as 'authorization: Bearer <key>'");
  const std::string given = BearerToken(context);
  return !given.empty() && ConstantTimeEquals(given, key) ? grpc::Status::OK : kDenied;
}

}  // namespace isobar::supervisor
