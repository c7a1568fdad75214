// Files stored as their bytes arrive (FileWriter) on a real PostgreSQL: read back exactly whatever the
// parts, and nothing left behind when an upload fails or is abandoned.
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "base/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/database.h"
#include "storage/pg_testing.h"
#include "supervisor/runner/file_storage.h"

namespace isobar::supervisor {
namespace {

using ::testing::HasSubstr;

class FileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(db_.Open().ok()); }
  void TearDown() override { db_.Close(); }

  uint64_t Stored() {
    absl::StatusOr<uint64_t> total = db_.files().TotalBytes();
    EXPECT_TRUE(total.ok()) << total.status();
    return total.value_or(0);
  }

  std::optional<StoredFile> Find(const std::string& id) {
    std::unique_ptr<storage::Transaction> txn = db_.Begin();
    absl::StatusOr<std::optional<StoredFile>> file = FindFile(*txn, "test", id);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *file : std::nullopt;
  }

  storage::PgPool& pool_ = storage::testing::SharedPostgres().pool();
  storage::Database db_{pool_, storage::testing::NewDeployment(pool_)};
};

std::string Bytes(size_t size, std::mt19937& rng) {
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

TEST_F(FileWriterTest, PartsOfAnySizeReadBackAsOneFile) {
  // Seeded: part sizes straddle chunk boundaries in different ways on each round, and replay.
  std::mt19937 rng(20261207);
  for (int round = 0; round < 3; ++round) {
    const std::string bytes = Bytes(storage::BlobStore::kChunkBytes * 2 + rng() % 100000, rng);
    FileWriter writer(db_, kMaxUploadBytes);
    for (size_t at = 0; at < bytes.size();) {
      const size_t part = std::min<size_t>(bytes.size() - at, 1 + rng() % 400000);
      ASSERT_TRUE(writer.Append(absl::string_view(bytes).substr(at, part)).ok());
      at += part;
    }
    absl::StatusOr<std::string> id = writer.Commit("application/x-test", absl::Base64Escape(Sha256(bytes)));
    ASSERT_TRUE(id.ok()) << id.status();
    std::optional<StoredFile> file = Find(*id);
    ASSERT_TRUE(file.has_value());
    EXPECT_EQ(file->size, bytes.size());
    EXPECT_EQ(file->sha256, Sha256(bytes));
    EXPECT_EQ(file->content_type, "application/x-test");
    std::string back;
    ASSERT_TRUE(db_.files().Read(*id, 0, bytes.size(), [&](absl::string_view part) {
      back.append(part.data(), part.size());
      return absl::OkStatus();
    }).ok());
    EXPECT_TRUE(back == bytes) << "round " << round;
  }
}

TEST_F(FileWriterTest, AnEmptyFileIsAFile) {
  FileWriter writer(db_, kMaxUploadBytes);
  absl::StatusOr<std::string> id = writer.Commit(std::nullopt, std::nullopt);
  ASSERT_TRUE(id.ok()) << id.status();
  std::optional<StoredFile> file = Find(*id);
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->size, 0u);
  EXPECT_EQ(file->content_type, std::nullopt);
}

TEST_F(FileWriterTest, FailuresLeaveNothingBehind) {
  std::mt19937 rng(7);
  const std::string bytes = Bytes(storage::BlobStore::kChunkBytes + 10, rng);
  {
    // A digest that does not match: refused once the whole file is in, and its chunks deleted.
    FileWriter writer(db_, kMaxUploadBytes);
    ASSERT_TRUE(writer.Append(bytes).ok());
    EXPECT_GT(Stored(), 0u);
    absl::StatusOr<std::string> id = writer.Commit(std::nullopt, absl::Base64Escape(std::string(32, 'x')));
    EXPECT_TRUE(absl::IsInvalidArgument(id.status())) << id.status();
    EXPECT_THAT(id.status().message(), HasSubstr("Sha256 mismatch"));
    EXPECT_EQ(Stored(), 0u);
    EXPECT_FALSE(writer.Append("more").ok());
  }
  {
    // One byte over the file's limit.
    FileWriter writer(db_, bytes.size() - 1);
    absl::Status appended = writer.Append(bytes);
    EXPECT_TRUE(absl::IsInvalidArgument(appended)) << appended;
    EXPECT_EQ(Stored(), 0u);
  }
  {
    // Over the deployment's quota: the file at the quota fits, one byte more does not.
    FileWriter fits(db_, kMaxUploadBytes, bytes.size());
    ASSERT_TRUE(fits.Append(bytes).ok());
    absl::StatusOr<std::string> id = fits.Commit(std::nullopt, std::nullopt);
    ASSERT_TRUE(id.ok()) << id.status();
    FileWriter over(db_, kMaxUploadBytes, bytes.size());
    absl::Status appended = over.Append(std::string(storage::BlobStore::kChunkBytes, 'o'));
    EXPECT_TRUE(absl::IsResourceExhausted(appended)) << appended;
    EXPECT_EQ(Stored(), bytes.size());
    ASSERT_TRUE(db_.files().Delete(*id).ok());
  }
  {
    // Abandoned: the chunks written so far go with the writer.
    auto writer = std::make_unique<FileWriter>(db_, kMaxUploadBytes);
    ASSERT_TRUE(writer->Append(bytes).ok());
    EXPECT_EQ(Stored(), storage::BlobStore::kChunkBytes);
    writer.reset();
    EXPECT_EQ(Stored(), 0u);
  }
}

}  // namespace
}  // namespace isobar::supervisor
