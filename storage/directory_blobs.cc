#include "storage/directory_blobs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "base/status_macros.h"

namespace isobar::storage {
namespace {

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// The entries of a directory (not "." or ".."); NOT_FOUND if there is none.
absl::StatusOr<std::vector<std::string>> List(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no directory ", path));
    return Errno("cannot list", path);
  }
  std::vector<std::string> names;
  while (dirent* entry = readdir(dir)) {
    const absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  closedir(dir);
  return names;
}

absl::Status MakeDirectory(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return Errno("cannot create", path);
  return absl::OkStatus();
}

// A chunk's number from its file name, or nullopt for anything else (a temporary file).
std::optional<int64_t> ChunkNumber(absl::string_view name) {
  int64_t number = 0;
  if (name.empty() || !std::all_of(name.begin(), name.end(), absl::ascii_isdigit) || !absl::SimpleAtoi(name, &number)) {
    return std::nullopt;
  }
  return number;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// The bytes of the chunks in a key's directory.
uint64_t KeyBytes(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> names = List(path);
  uint64_t bytes = 0;
  if (names.ok()) {
    for (const std::string& name : *names) {
      if (ChunkNumber(name).has_value()) bytes += FileSize(absl::StrCat(path, "/", name));
    }
  }
  return bytes;
}

// A Write's chunks until they move under their key: never a key (keys have no dot), never counted.
constexpr char kStagingPrefix[] = ".staging-";

}  // namespace

DirectoryBlobs::DirectoryBlobs(PgPool& pool, std::string root, DeploymentId deployment)
    : pool_(pool), root_(absl::StrCat(root, "/", deployment.value())), deployment_(deployment) {}

absl::StatusOr<std::string> DirectoryBlobs::KeyPath(absl::string_view key) const {
  if (key.empty() || key.size() > 200 ||
      !std::all_of(key.begin(), key.end(), [](char c) { return absl::ascii_isalnum(c) || c == '_' || c == '-'; })) {
    return absl::InvalidArgumentError("a stored file's key is [A-Za-z0-9_-]{1,200}");
  }
  return absl::StrCat(root_, "/", key);
}

absl::StatusOr<uint64_t> DirectoryBlobs::Used() {
  if (used_.has_value()) return *used_;
  RETURN_IF_ERROR(MakeDirectory(root_));
  ASSIGN_OR_RETURN(std::vector<std::string> keys, List(root_));
  uint64_t used = 0;
  for (const std::string& key : keys) {
    if (!absl::StartsWith(key, kStagingPrefix)) used += KeyBytes(absl::StrCat(root_, "/", key));
  }
  used_ = used;
  return used;
}

absl::StatusOr<uint64_t> DirectoryBlobs::QuotaFor(uint64_t quota) {
  ASSIGN_OR_RETURN(PgPool::Lease conn, pool_.Acquire());
  ASSIGN_OR_RETURN(PgResult rows, conn->Exec("SELECT file_quota_bytes FROM isobar.deployments WHERE id = $1",
                                             {absl::StrCat(deployment_.value())}));
  if (rows.rows() > 0 && !rows.IsNull(0, 0)) quota = static_cast<uint64_t>(rows.GetInt(0, 0));
  return quota;
}

absl::Status DirectoryBlobs::CheckQuota(uint64_t adding, uint64_t freeing, uint64_t quota) {
  ASSIGN_OR_RETURN(uint64_t used, Used());
  const uint64_t after = used - std::min(used, freeing) + adding;
  if (adding > freeing && after > quota) {
    return absl::ResourceExhaustedError(absl::StrCat("The deployment's file storage is full (", used, " of ", quota,
                                                     " bytes used); delete files first"));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DirectoryBlobs::RemoveKey(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> names = List(path);
  if (absl::IsNotFound(names.status())) return 0;
  if (!names.ok()) return names.status();
  uint64_t freed = 0;
  for (const std::string& name : *names) {
    const std::string file = absl::StrCat(path, "/", name);
    const uint64_t size = FileSize(file);
    if (unlink(file.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete", file);
    if (ChunkNumber(name).has_value()) freed += size;
  }
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) return Errno("cannot delete", path);
  return freed;
}

void DirectoryBlobs::Count(int64_t bytes) {
  if (!used_.has_value()) return;  // counted from the directory when first needed
  used_ = bytes < 0 ? *used_ - std::min<uint64_t>(*used_, static_cast<uint64_t>(-bytes)) : *used_ + static_cast<uint64_t>(bytes);
}

absl::Status DirectoryBlobs::Write(absl::string_view key, absl::string_view bytes, uint64_t quota) {
  ASSIGN_OR_RETURN(std::string path, KeyPath(key));
  ASSIGN_OR_RETURN(quota, QuotaFor(quota));  // (PostgreSQL, before the lock)
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckQuota(bytes.size(), KeyBytes(path), quota));
  // The new chunks beside the old, then one rename: the key holds the old bytes or the new.
  absl::BitGen random;
  const std::string staging =
      absl::StrCat(root_, "/", kStagingPrefix, absl::Hex(absl::Uniform<uint64_t>(random), absl::kZeroPad16));
  RETURN_IF_ERROR(MakeDirectory(staging));
  int64_t chunk = 0;
  for (size_t offset = 0; offset < bytes.size() || chunk == 0; offset += kChunkBytes, ++chunk) {
    absl::Status written = WriteFileAtomically(absl::StrCat(staging, "/", chunk), bytes.substr(offset, kChunkBytes));
    if (!written.ok()) {
      (void)RemoveKey(staging);
      return written;
    }
    if (bytes.empty()) break;
  }
  // The old bytes step aside first, and come back if the new cannot take their place.
  const std::string aside = absl::StrCat(staging, "-old");
  const bool replacing = rename(path.c_str(), aside.c_str()) == 0;
  if (!replacing && errno != ENOENT) {
    absl::Status failed = Errno("cannot move aside", path);
    (void)RemoveKey(staging);
    return failed;
  }
  if (rename(staging.c_str(), path.c_str()) != 0) {
    absl::Status failed = Errno("cannot rename", staging);
    if (replacing) rename(aside.c_str(), path.c_str());
    (void)RemoveKey(staging);
    return failed;
  }
  if (replacing) {
    ASSIGN_OR_RETURN(uint64_t replaced, RemoveKey(aside));
    Count(-static_cast<int64_t>(replaced));
  }
  Count(static_cast<int64_t>(bytes.size()));
  return absl::OkStatus();
}

absl::Status DirectoryBlobs::WriteChunk(absl::string_view key, int64_t chunk, absl::string_view bytes, uint64_t quota) {
  if (bytes.size() > kChunkBytes) return absl::InvalidArgumentError("a chunk holds at most 1 MiB");
  if (chunk < 0) return absl::InvalidArgumentError("chunks are numbered from 0");
  ASSIGN_OR_RETURN(std::string path, KeyPath(key));
  ASSIGN_OR_RETURN(quota, QuotaFor(quota));  // (PostgreSQL, before the lock)
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckQuota(bytes.size(), 0, quota));
  RETURN_IF_ERROR(MakeDirectory(path));
  const std::string file = absl::StrCat(path, "/", chunk);
  if (access(file.c_str(), F_OK) == 0) return absl::AlreadyExistsError(absl::StrCat("chunk ", chunk, " of ", key, " exists"));
  RETURN_IF_ERROR(WriteFileAtomically(file, bytes));
  Count(static_cast<int64_t>(bytes.size()));
  return absl::OkStatus();
}

absl::Status DirectoryBlobs::Rename(absl::string_view from, absl::string_view to, int64_t chunks) {
  ASSIGN_OR_RETURN(std::string source, KeyPath(from));
  ASSIGN_OR_RETURN(std::string target, KeyPath(to));
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::vector<std::string>> names = List(source);
  const int64_t found = names.ok() ? std::count_if(names->begin(), names->end(),
                                                   [](const std::string& name) { return ChunkNumber(name).has_value(); })
                                   : 0;
  if (found != chunks) {
    return absl::FailedPreconditionError(absl::StrCat("expected ", chunks, " chunks under ", from, ", found ", found));
  }
  if (access(target.c_str(), F_OK) == 0) return absl::AlreadyExistsError(absl::StrCat("bytes are stored under ", to));
  if (rename(source.c_str(), target.c_str()) != 0) return Errno("cannot rename", source);
  // Orphan age counts from now.
  utimensat(AT_FDCWD, target.c_str(), nullptr, 0);
  return absl::OkStatus();
}

absl::Status DirectoryBlobs::Read(absl::string_view key, uint64_t offset, uint64_t length,
                                  const std::function<absl::Status(absl::string_view)>& sink) {
  ASSIGN_OR_RETURN(std::string path, KeyPath(key));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no stored bytes for file ", key));
    return Errno("cannot read", path);
  }
  const uint64_t end = offset + length;
  uint64_t delivered = 0;
  std::string part;
  for (uint64_t chunk = offset / kChunkBytes; delivered < length || (length == 0 && chunk == offset / kChunkBytes);
       ++chunk) {
    const std::string file = absl::StrCat(path, "/", chunk);
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT) return absl::OutOfRangeError(absl::StrCat("file ", key, " ends before the range asked for"));
      return Errno("cannot read", file);
    }
    if (length == 0) {
      close(fd);
      return absl::OkStatus();
    }
    const uint64_t chunk_start = chunk * kChunkBytes;
    const uint64_t from = std::max(offset, chunk_start) - chunk_start;
    const uint64_t want = std::min<uint64_t>(end, chunk_start + kChunkBytes) - chunk_start - from;
    part.resize(want);
    size_t got = 0;
    while (got < want) {
      const ssize_t n = pread(fd, part.data() + got, want - got, static_cast<off_t>(from + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    close(fd);
    if (got == 0) return absl::OutOfRangeError(absl::StrCat("file ", key, " ends before the range asked for"));
    part.resize(got);
    RETURN_IF_ERROR(sink(part));
    delivered += got;
    if (got < want) break;  // the last chunk
  }
  if (delivered < length) return absl::OutOfRangeError(absl::StrCat("file ", key, " ends before the range asked for"));
  return absl::OkStatus();
}

absl::Status DirectoryBlobs::Delete(absl::string_view key) {
  ASSIGN_OR_RETURN(std::string path, KeyPath(key));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(uint64_t freed, RemoveKey(path));
  Count(-static_cast<int64_t>(freed));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DirectoryBlobs::TotalBytes() {
  absl::MutexLock lock(&mu_);
  return Used();
}

absl::StatusOr<size_t> DirectoryBlobs::CollectOrphans(
    absl::Duration min_age, size_t limit, const std::function<absl::StatusOr<bool>(const std::string&)>& referenced) {
  absl::StatusOr<std::vector<std::string>> keys = List(root_);
  if (absl::IsNotFound(keys.status())) return 0;
  if (!keys.ok()) return keys.status();
  std::sort(keys->begin(), keys->end());
  const absl::Time cutoff = absl::Now() - min_age;
  size_t deleted = 0;
  (void)limit;  // one listing holds every key; `referenced` is asked one key at a time
  for (const std::string& key : *keys) {
    const std::string path = absl::StrCat(root_, "/", key);
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || absl::TimeFromTimespec(st.st_mtim) >= cutoff) continue;
    // A Write's staging directory left by a crash is no file's.
    const bool staging = absl::StartsWith(key, kStagingPrefix);
    if (!staging) {
      ASSIGN_OR_RETURN(bool in_use, referenced(key));
      if (in_use) continue;
    }
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(uint64_t freed, RemoveKey(path));
    if (!staging) {
      Count(-static_cast<int64_t>(freed));
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace isobar::storage
