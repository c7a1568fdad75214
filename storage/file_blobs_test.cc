// Stored files' bytes on a real PostgreSQL: chunked writes read back in any range, a deployment sees
// only its own, and orphans are collected only when old enough and unreferenced.
#include "storage/file_blobs.h"

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/catalog.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

constexpr uint64_t kQuota = 1ull << 30;

std::string ReadAll(FileBlobs& blobs, absl::string_view key, uint64_t offset, uint64_t length, absl::Status* status) {
  std::string out;
  *status = blobs.Read(key, offset, length, [&](absl::string_view part) {
    EXPECT_LE(part.size(), FileBlobs::kChunkBytes);
    out.append(part.data(), part.size());
    return absl::OkStatus();
  });
  return out;
}

class FileBlobsTest : public ::testing::Test {
 protected:
  PgPool& pool_ = testing::SharedPostgres().pool();
  const DeploymentId deployment_ = testing::NewDeployment(pool_);
  FileBlobs blobs_{pool_, deployment_};
};

TEST_F(FileBlobsTest, RangesAcrossChunksReadBackExactly) {
  // Seeded, so a failure replays: every range below is checked against the bytes written.
  std::mt19937 rng(20261206);
  std::string bytes(FileBlobs::kChunkBytes * 2 + 12345, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  ASSERT_TRUE(blobs_.Write("file-a", bytes, kQuota).ok());
  absl::Status status;
  EXPECT_EQ(ReadAll(blobs_, "file-a", 0, bytes.size(), &status), bytes);
  EXPECT_TRUE(status.ok()) << status;
  for (int i = 0; i < 40; ++i) {
    const uint64_t offset = rng() % bytes.size();
    const uint64_t length = rng() % (bytes.size() - offset + 1);
    EXPECT_EQ(ReadAll(blobs_, "file-a", offset, length, &status), bytes.substr(offset, length)) << offset << "+" << length;
    EXPECT_TRUE(status.ok()) << status;
  }
  ReadAll(blobs_, "file-a", bytes.size() - 1, 2, &status);
  EXPECT_TRUE(absl::IsOutOfRange(status)) << status;
  ReadAll(blobs_, "no-such-file", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_F(FileBlobsTest, EmptyFilesReplacementAndDeletion) {
  absl::Status status;
  ASSERT_TRUE(blobs_.Write("empty", "", kQuota).ok());
  EXPECT_EQ(ReadAll(blobs_, "empty", 0, 0, &status), "");
  EXPECT_TRUE(status.ok()) << status;
  ASSERT_TRUE(blobs_.Write("empty", "now three", kQuota).ok());
  EXPECT_EQ(ReadAll(blobs_, "empty", 4, 5, &status), "three");
  ASSERT_TRUE(blobs_.Delete("empty").ok());
  ReadAll(blobs_, "empty", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_F(FileBlobsTest, DeploymentsSeeOnlyTheirOwnBytes) {
  FileBlobs other(pool_, testing::NewDeployment(pool_));
  ASSERT_TRUE(blobs_.Write("shared-name", "mine", kQuota).ok());
  absl::Status status;
  ReadAll(other, "shared-name", 0, 4, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  ASSERT_TRUE(other.Delete("shared-name").ok());
  EXPECT_EQ(ReadAll(blobs_, "shared-name", 0, 4, &status), "mine");
}

TEST_F(FileBlobsTest, OrphansAreCollectedWhenOldAndUnreferenced) {
  ASSERT_TRUE(blobs_.Write("kept", "k", kQuota).ok());
  ASSERT_TRUE(blobs_.Write("orphan", "o", kQuota).ok());
  auto referenced = [](const std::string& key) -> absl::StatusOr<bool> { return key == "kept"; };
  // Too young: nothing is collected, whatever the references say.
  absl::StatusOr<size_t> young = blobs_.CollectOrphans(absl::Hours(1), 100, referenced);
  ASSERT_TRUE(young.ok()) << young.status();
  EXPECT_EQ(*young, 0u);
  absl::StatusOr<size_t> old = blobs_.CollectOrphans(absl::ZeroDuration(), 100, referenced);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(*old, 1u);
  absl::Status status;
  EXPECT_EQ(ReadAll(blobs_, "kept", 0, 1, &status), "k");
  ReadAll(blobs_, "orphan", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_F(FileBlobsTest, LiveFilesDoNotHideOrphansBehindThem) {
  for (const char* key : {"a1", "a2", "a3", "a4", "z-orphan"}) ASSERT_TRUE(blobs_.Write(key, key, kQuota).ok());
  // Two keys a round trip: the orphan is the fifth.
  absl::StatusOr<size_t> collected = blobs_.CollectOrphans(
      absl::ZeroDuration(), 2, [](const std::string& key) -> absl::StatusOr<bool> { return key[0] == 'a'; });
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(*collected, 1u);
}

TEST_F(FileBlobsTest, ChunksWrittenOneByOneMoveUnderTheirFinalKey) {
  const std::string first(FileBlobs::kChunkBytes, 'a');
  ASSERT_TRUE(blobs_.WriteChunk("upload-1", 0, first, kQuota).ok());
  ASSERT_TRUE(blobs_.WriteChunk("upload-1", 1, "tail", kQuota).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(blobs_.WriteChunk("upload-1", 2, first + "x", kQuota))) << "over a chunk";
  // A count that does not match moves nothing.
  EXPECT_TRUE(absl::IsFailedPrecondition(blobs_.Rename("upload-1", "file-1", 3)));
  absl::Status status;
  EXPECT_EQ(ReadAll(blobs_, "upload-1", FileBlobs::kChunkBytes - 2, 6, &status), "aatail");
  ASSERT_TRUE(blobs_.Rename("upload-1", "file-1", 2).ok());
  EXPECT_EQ(ReadAll(blobs_, "file-1", FileBlobs::kChunkBytes - 2, 6, &status), "aatail");
  ReadAll(blobs_, "upload-1", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_F(FileBlobsTest, QuotaHoldsForWritersRacingEachOther) {
  // Eight writers at once, 1000 bytes each, under a quota of 3500 on top of what is stored: the
  // check and the write are one step, so exactly three pass, whatever the interleaving.
  ASSERT_TRUE(blobs_.Write("before", std::string(500, 'b'), kQuota).ok());
  constexpr uint64_t kTight = 500 + 3500;
  std::atomic<int> passed{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      const std::string key = absl::StrCat("racer-", i);
      absl::Status status = i % 2 == 0 ? blobs_.Write(key, std::string(1000, 'r'), kTight)
                                       : blobs_.WriteChunk(key, 0, std::string(1000, 'r'), kTight);
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
  absl::StatusOr<uint64_t> total = blobs_.TotalBytes();
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(*total, 3500u);
}

TEST_F(FileBlobsTest, TheOperatorsQuotaForADeploymentOverridesTheDefault) {
  Catalog catalog(pool_);
  ASSERT_TRUE(catalog.SetFileQuota(deployment_, 100).ok());
  EXPECT_TRUE(blobs_.Write("at-quota", std::string(100, 'q'), kQuota).ok());
  absl::Status over = blobs_.WriteChunk("one-more", 0, "x", kQuota);
  EXPECT_TRUE(absl::IsResourceExhausted(over)) << over;
  absl::StatusOr<Catalog::FileStorageUse> use = catalog.FileStorage(deployment_);
  ASSERT_TRUE(use.ok()) << use.status();
  EXPECT_EQ(use->quota, 100u);
  EXPECT_EQ(use->used, 100u);
  // Back to the default: room again.
  ASSERT_TRUE(catalog.SetFileQuota(deployment_, std::nullopt).ok());
  EXPECT_TRUE(blobs_.WriteChunk("one-more", 0, "x", kQuota).ok());
  use = catalog.FileStorage(deployment_);
  ASSERT_TRUE(use.ok()) << use.status();
  EXPECT_EQ(use->quota, std::nullopt);
  EXPECT_EQ(use->used, 101u);
}

}  // namespace
}  // namespace isobar::storage
