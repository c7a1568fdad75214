// Stored files' bytes on a real PostgreSQL: chunked writes read back in any range, a deployment sees
// only its own, and orphans are collected only when old enough and unreferenced.
#include "storage/file_blobs.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

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
  FileBlobs blobs_{pool_, testing::NewDeployment(pool_)};
};

TEST_F(FileBlobsTest, RangesAcrossChunksReadBackExactly) {
  // Seeded, so a failure replays: every range below is checked against the bytes written.
  std::mt19937 rng(20261206);
  std::string bytes(FileBlobs::kChunkBytes * 2 + 12345, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  ASSERT_TRUE(blobs_.Write("file-a", bytes).ok());
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
  ASSERT_TRUE(blobs_.Write("empty", "").ok());
  EXPECT_EQ(ReadAll(blobs_, "empty", 0, 0, &status), "");
  EXPECT_TRUE(status.ok()) << status;
  ASSERT_TRUE(blobs_.Write("empty", "now three").ok());
  EXPECT_EQ(ReadAll(blobs_, "empty", 4, 5, &status), "three");
  ASSERT_TRUE(blobs_.Delete("empty").ok());
  ReadAll(blobs_, "empty", 0, 1, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
}

TEST_F(FileBlobsTest, DeploymentsSeeOnlyTheirOwnBytes) {
  FileBlobs other(pool_, testing::NewDeployment(pool_));
  ASSERT_TRUE(blobs_.Write("shared-name", "mine").ok());
  absl::Status status;
  ReadAll(other, "shared-name", 0, 4, &status);
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  ASSERT_TRUE(other.Delete("shared-name").ok());
  EXPECT_EQ(ReadAll(blobs_, "shared-name", 0, 4, &status), "mine");
}

TEST_F(FileBlobsTest, OrphansAreCollectedWhenOldAndUnreferenced) {
  ASSERT_TRUE(blobs_.Write("kept", "k").ok());
  ASSERT_TRUE(blobs_.Write("orphan", "o").ok());
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
  for (const char* key : {"a1", "a2", "a3", "a4", "z-orphan"}) ASSERT_TRUE(blobs_.Write(key, key).ok());
  // Two keys a round trip: the orphan is the fifth.
  absl::StatusOr<size_t> collected = blobs_.CollectOrphans(
      absl::ZeroDuration(), 2, [](const std::string& key) -> absl::StatusOr<bool> { return key[0] == 'a'; });
  ASSERT_TRUE(collected.ok()) << collected.status();
  EXPECT_EQ(*collected, 1u);
}

}  // namespace
}  // namespace isobar::storage
