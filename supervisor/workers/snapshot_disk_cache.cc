#include "supervisor/workers/snapshot_disk_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/files.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "base/sha256.h"
#include "isobar/worker/v1/worker.pb.h"

namespace isobar::supervisor {
namespace {

constexpr char kComponent[] = "snapshots";
constexpr absl::string_view kMagic = "isobar startup snapshot 1\n";
constexpr absl::string_view kSuffix = ".snap";
constexpr size_t kDigestBytes = 32;
constexpr uint64_t kEnvelopeBytes = 1u << 20;  // the module paths, key and build around a blob

// The whole of a regular file of at most `limit` bytes (O_NOFOLLOW: never through a link).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, uint64_t limit) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return errno == ENOENT ? absl::NotFoundError("no file") : absl::UnavailableError(strerror(errno));
  }
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || static_cast<uint64_t>(info.st_size) > limit) {
    close(fd);
    return absl::DataLossError("not a regular file of a blob's size");
  }
  std::string data(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  if (done != data.size()) return absl::DataLossError("short read");
  return data;
}

// The cache's own files: 64 hex digits and the suffix (anything else in the directory is left alone).
bool IsCacheFile(absl::string_view name) {
  if (name.size() != 64 + kSuffix.size() || !absl::EndsWith(name, kSuffix)) return false;
  return std::all_of(name.begin(), name.begin() + 64, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotDiskCache>> SnapshotDiskCache::Open(std::string dir, uint64_t max_bytes,
                                                                           uint64_t max_blob_bytes) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create the snapshot cache ", dir, ": ", strerror(errno)));
  }
  struct stat info {};
  if (lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("the snapshot cache ", dir, " is not a directory"));
  }
  if (DIR* listing = opendir(dir.c_str())) {
    while (const dirent* entry = readdir(listing)) {
      const absl::string_view name = entry->d_name;
      // A temporary file is a cache file's name and ".tmp": a write a crash cut short.
      if (absl::EndsWith(name, ".tmp") && IsCacheFile(name.substr(0, name.size() - 4))) {
        unlink(absl::StrCat(dir, "/", name).c_str());
      }
    }
    closedir(listing);
  }
  return std::unique_ptr<SnapshotDiskCache>(new SnapshotDiskCache(std::move(dir), max_bytes, max_blob_bytes));
}

std::string SnapshotDiskCache::PathOf(absl::string_view key, absl::string_view build) const {
  // Lengths first: no two (key, build) pairs hash the same text.
  const std::string name = absl::BytesToHexString(Sha256(absl::StrCat(key.size(), ":", key, build.size(), ":", build)));
  return absl::StrCat(dir_, "/", name, kSuffix);
}

void SnapshotDiskCache::Reject(const std::string& path, absl::string_view why) {
  ++stats_.rejected;
  ISOBAR_LOG(kWarning, kComponent) << "a stored startup snapshot is not used, and removed (" << path << "): " << why;
  unlink(path.c_str());
}

std::optional<MadeSnapshot> SnapshotDiskCache::Load(absl::string_view key, absl::string_view build) {
  const std::string path = PathOf(key, build);
  absl::StatusOr<std::string> data = ReadSmallFile(path, kMagic.size() + kDigestBytes + max_blob_bytes_ + kEnvelopeBytes);
  if (!data.ok()) {
    if (absl::IsDataLoss(data.status())) Reject(path, data.status().message());
    return std::nullopt;
  }
  absl::string_view rest = *data;
  if (!absl::ConsumePrefix(&rest, kMagic) || rest.size() < kDigestBytes) {
    Reject(path, "not a snapshot file");
    return std::nullopt;
  }
  const absl::string_view digest = rest.substr(0, kDigestBytes);
  rest.remove_prefix(kDigestBytes);
  if (!Sha256Matches(rest, digest)) {
    Reject(path, "its SHA-256 does not match");
    return std::nullopt;
  }
  isobar::worker::v1::StoredSnapshot stored;
  if (!stored.ParseFromArray(rest.data(), static_cast<int>(rest.size()))) {
    Reject(path, "it does not parse");
    return std::nullopt;
  }
  const auto& paths = stored.snapshot().module_paths();
  if (stored.key() != key || stored.build() != build || stored.snapshot().key() != key) {
    Reject(path, "it names another version or build");
    return std::nullopt;
  }
  if (stored.snapshot().blob().empty() || stored.snapshot().blob().size() > max_blob_bytes_ ||
      !std::is_sorted(paths.begin(), paths.end())) {
    Reject(path, "its blob is empty, too large, or its module list unsorted");
    return std::nullopt;
  }
  utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);  // used now (for MakeRoom's order)
  ++stats_.loaded;
  return MadeSnapshot{std::string(key), {paths.begin(), paths.end()},
                      std::move(*stored.mutable_snapshot()->mutable_blob()), std::string(build)};
}

absl::Status SnapshotDiskCache::Store(const MadeSnapshot& made) {
  isobar::worker::v1::StoredSnapshot stored;
  stored.set_key(made.key);
  stored.set_build(made.build);
  stored.mutable_snapshot()->set_key(made.key);
  for (const std::string& path : made.module_paths) stored.mutable_snapshot()->add_module_paths(path);
  stored.mutable_snapshot()->set_blob(made.blob);
  const std::string payload = stored.SerializeAsString();
  const std::string path = PathOf(made.key, made.build);
  RETURN_IF_ERROR(WriteFileAtomically(path, absl::StrCat(kMagic, Sha256(payload), payload)));
  ++stats_.stored;
  MakeRoom(path);
  return absl::OkStatus();
}

void SnapshotDiskCache::MakeRoom(const std::string& keep) {
  struct File {
    std::string path;
    uint64_t bytes;
    timespec used;
  };
  std::vector<File> files;
  uint64_t total = 0;
  DIR* listing = opendir(dir_.c_str());
  if (listing == nullptr) return;
  while (const dirent* entry = readdir(listing)) {
    if (!IsCacheFile(entry->d_name)) continue;
    std::string path = absl::StrCat(dir_, "/", entry->d_name);
    struct stat info {};
    if (lstat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    total += static_cast<uint64_t>(info.st_size);
    files.push_back({std::move(path), static_cast<uint64_t>(info.st_size), info.st_mtim});
  }
  closedir(listing);
  std::sort(files.begin(), files.end(), [](const File& a, const File& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec : a.used.tv_nsec < b.used.tv_nsec;
  });
  for (const File& file : files) {
    if (total <= max_bytes_) break;
    if (file.path == keep) continue;
    if (unlink(file.path.c_str()) == 0) {
      total -= file.bytes;
      ++stats_.removed;
    }
  }
}

}  // namespace isobar::supervisor
