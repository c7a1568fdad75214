// Stored files' bytes on a real PostgreSQL: chunked writes read back in any range, a deployment sees
// only its own, and orphans are collected only when old enough and unreferenced.
#include "storage/file_blobs.h"

#include <stdlib.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/catalog.h"
#include "storage/directory_blobs.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

constexpr uint64_t kQuota = 1ull << 30;

std::string ReadAll(BlobStore& blobs, absl::string_view key, uint64_t offset, uint64_t length, absl::Status* status) {
  std::string out;
  *status = blobs.Read(key, offset, length, [&](absl::string_view part) {
    EXPECT_LE(part.size(), BlobStore::kChunkBytes);
    out.append(part.data(), part.size());
    return absl::OkStatus();
  });
  return out;
}

// Every case runs against both stores: PostgreSQL's and a directory's.
class FileBlobsTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "postgres") {
      store_ = std::make_unique<FileBlobs>(pool_, deployment_);
    } else {
      std::string root = absl::StrCat(std::getenv("TEST_TMPDIR") != nullptr ? std::getenv("TEST_TMPDIR") : "/tmp",
                                      "/blobs-XXXXXX");
      ASSERT_NE(mkdtemp(root.data()), nullptr);
      root_ = root;
      store_ = std::make_unique<DirectoryBlobs>(pool_, root_, deployment_);
    }
  }
  BlobStore& blobs() { return *store_; }
  BlobStore& Other() {
    other_ = std::string(GetParam()) == "postgres"
                 ? std::unique_ptr<BlobStore>(std::make_unique<FileBlobs>(pool_, testing::NewDeployment(pool_)))
                 : std::make_unique<DirectoryBlobs>(pool_, root_, testing::NewDeployment(pool_));
    return *other_;
  }

  PgPool& pool_ = testing::SharedPostgres().pool();
  const DeploymentId deployment_ = testing::NewDeployment(pool_);
  std::string root_;  // the directory store's (both deployments share it)
  std::unique_ptr<BlobStore> store_;
  std::unique_ptr<BlobStore> other_;
};

INSTANTIATE_TEST_SUITE_P(Stores, FileBlobsTest, ::testing::Values("postgres", "directory"));

TEST_P(FileBlobsTest, RangesAcrossChunksReadBackExactly) {
  // Seeded, so a failure replays: every range below is checked against the bytes written.
  std::mt19937 rng(20261206);
  std::string bytes(BlobStore::kChunkBytes * 2 + 12345, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  ASSERT_TRUE(blobs().Write("file-a", bytes, kQuota).ok());
  absl::Status status;
  EXPECT_EQ(ReadAll(blobs(), "file-a", 0, bytes.size(), &status), bytes);
  EXPECT_TRUE(status.ok()) << status;
  for (int i = 0; i < 40; ++i) {
    const uint64_t offset = rng() % bytes.size();
    const uint64_t length = rng() % (bytes.size() - offset + 1);
    EXPECT_EQ(ReadAll(blobs(), "file-a", offset, length, &status), bytes.substr(offset, length)) << offset << "+" << length;
    EXPECT_TRUE(status.ok()) << status;
  }
  ReadAll(blobs(), "file-a", bytes.size() - 1, 2, &status);
  EXPECT_TRUE(absl::IsOutOfRange(status)) << status;
  ReadAll(blobs(), "no-such-file", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_P(FileBlobsTest, EmptyFilesReplacementAndDeletion) {
  absl::Status status;
  ASSERT_TRUE(blobs().Write("empty", "", kQuota).ok());
  EXPECT_EQ(ReadAll(blobs(), "empty", 0, 0, &status), "");
  EXPECT_TRUE(status.ok()) << status;
  ASSERT_TRUE(blobs().Write("empty", "now three", kQuota).ok());
  EXPECT_EQ(ReadAll(blobs(), "empty", 4, 5, &status), "three");
  ASSERT_TRUE(blobs().Delete("empty").ok());
  ReadAll(blobs(), "empty", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_P(FileBlobsTest, DeploymentsSeeOnlyTheirOwnBytes) {
  BlobStore& other = Other();
  ASSERT_TRUE(blobs().Write("shared-name", "mine", kQuota).ok());
  absl::Status status;
  ReadAll(other, "shared-name", 0, 4, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  ASSERT_TRUE(other.Delete("shared-name").ok());
  EXPECT_EQ(ReadAll(blobs(), "shared-name", 0, 4, &status), "mine");
}

TEST_P(FileBlobsTest, OrphansAreCollectedWhenOldAndUnreferenced) {
  ASSERT_TRUE(blobs().Write("kept", "k", kQuota).ok());
  ASSERT_TRUE(blobs().Write("orphan", "o", kQuota).ok());
  auto referenced = [](const std::string& key) -> absl::StatusOr<bool> { return key == "kept"; };
  // Too young: nothing is collected, whatever the references say.
  absl::StatusOr<size_t> young = blobs().CollectOrphans(absl::Hours(1), 100, referenced);
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_EQ(*young, 0u);
  absl::StatusOr<size_t> old = blobs().CollectOrphans(absl::ZeroDuration(), 100, referenced);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(*old, 1u);
  absl::Status status;
  EXPECT_EQ(ReadAll(blobs(), "kept", 0, 1, &status), "k");
  ReadAll(blobs(), "orphan", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_P(FileBlobsTest, LiveFilesDoNotHideOrphansBehindThem) {
  for (const char* key : {"a1", "a2", "a3", "a4", "z-orphan"}) ASSERT_TRUE(blobs().Write(key, key, kQuota).ok());
  // Two keys a round trip: the orphan is the fifth.
  absl::StatusOr<size_t> collected = blobs().CollectOrphans(
      absl::ZeroDuration(), 2, [](const std::string& key) -> absl::StatusOr<bool> { return key[0] == 'a'; });
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(*collected, 1u);
}

TEST_P(FileBlobsTest, ChunksWrittenOneByOneMoveUnderTheirFinalKey) {
  const std::string first(BlobStore::kChunkBytes, 'a');
  ASSERT_TRUE(blobs().WriteChunk("upload-1", 0, first, kQuota).ok());
  ASSERT_TRUE(blobs().WriteChunk("upload-1", 1, "tail", kQuota).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(blobs().WriteChunk("upload-1", 2, first + "x", kQuota))) << "over a chunk";
  // A count that does not match moves nothing.
  EXPECT_TRUE(absl::IsFailedPrecondition(blobs().Rename("upload-1", "file-1", 3)));
  absl::Status status;
  EXPECT_EQ(ReadAll(blobs(), "upload-1", BlobStore::kChunkBytes - 2, 6, &status), "aatail");
  ASSERT_TRUE(blobs().Rename("upload-1", "file-1", 2).ok());
  EXPECT_EQ(ReadAll(blobs(), "file-1", BlobStore::kChunkBytes - 2, 6, &status), "aatail");
  ReadAll(blobs(), "upload-1", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_P(FileBlobsTest, QuotaHoldsForWritersRacingEachOther) {
  // Eight writers at once, 1000 bytes each, under a quota of 3500 on top of what is stored: the
  // check and the write are one step, so exactly three pass, whatever the interleaving.
  ASSERT_TRUE(blobs().Write("before", std::string(500, 'b'), kQuota).ok());
  constexpr uint64_t kTight = 500 + 3500;
  std::atomic<int> passed{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      const std::string key = absl::StrCat("racer-", i);
      // PostgreSQL's store: a store object each, as several supervisors would have (the advisory
      // lock is what holds them to the quota); a directory belongs to one supervisor's store.
      std::unique_ptr<BlobStore> own;
      if (std::string(GetParam()) == "postgres") own = std::make_unique<FileBlobs>(pool_, deployment_);
      BlobStore& store = own != nullptr ? *own : blobs();
      absl::Status status = i % 2 == 0 ? store.Write(key, std::string(1000, 'r'), kTight)
                                       : store.WriteChunk(key, 0, std::string(1000, 'r'), kTight);
      if (status.ok()) {
        ++passed;
      } else {
        EXPECT_TRUE(absl::IsResourceExhausted(status)) << status;
        ++refused;
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(passed.load(), 3);
  EXPECT_EQ(refused.load(), 5);
  absl::StatusOr<uint64_t> total = blobs().TotalBytes();
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(*total, 3500u);
}

TEST_P(FileBlobsTest, TheOperatorsQuotaForADeploymentOverridesTheDefault) {
  Catalog catalog(pool_);
  ASSERT_TRUE(catalog.SetFileQuota(deployment_, 100).ok());
  EXPECT_TRUE(blobs().Write("at-quota", std::string(100, 'q'), kQuota).ok());
  absl::Status over = blobs().WriteChunk("one-more", 0, "x", kQuota);
  EXPECT_TRUE(absl::IsResourceExhausted(over)) << over;
  absl::StatusOr<Catalog::FileStorageUse> use = catalog.FileStorage(deployment_);
  ASSERT_TRUE(use.ok()) << use.status();
  EXPECT_EQ(use->quota, 100u);
  absl::StatusOr<uint64_t> used = blobs().TotalBytes();
  EXPECT_EQ(used.value_or(0), 100u);
  // Back to the default: room again.
  ASSERT_TRUE(catalog.SetFileQuota(deployment_, std::nullopt).ok());
  EXPECT_TRUE(blobs().WriteChunk("one-more", 0, "x", kQuota).ok());
  use = catalog.FileStorage(deployment_);
  ASSERT_TRUE(use.ok()) << use.status();
  EXPECT_EQ(use->quota, std::nullopt);
  used = blobs().TotalBytes();
  EXPECT_EQ(used.value_or(0), 101u);
  // (The catalog counts what PostgreSQL holds, which is all of it for that store.)
  if (std::string(GetParam()) == "postgres") {
    EXPECT_EQ(use->used, 101u);
  }
}

TEST_P(FileBlobsTest, KeysNeverBecomePathsOutsideTheStore) {
  if (std::string(GetParam()) != "directory") GTEST_SKIP() << "PostgreSQL keys are never paths";
  for (const char* key : {"../escape", "a/b", "", ".", "..", ".staging-1", "with space", "\x01"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(blobs().Write(key, "x", kQuota))) << key;
    EXPECT_TRUE(absl::IsInvalidArgument(blobs().WriteChunk(key, 0, "x", kQuota))) << key;
    absl::Status status;
    ReadAll(blobs(), key, 0, 1, &status);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << key;
    EXPECT_TRUE(absl::IsInvalidArgument(blobs().Delete(key))) << key;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(blobs().WriteChunk(std::string(201, 'k'), 0, "x", kQuota)));
  absl::StatusOr<uint64_t> used = blobs().TotalBytes();
  EXPECT_EQ(used.value_or(1), 0u);
}

}  // namespace
}  // namespace isobar::storage
