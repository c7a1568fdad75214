#include "supervisor/workers/snapshot_disk_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace isobar::supervisor {
namespace {

constexpr uint64_t kMaxBlob = 1u << 20;

MadeSnapshot Made(const std::string& key, const std::string& build, size_t bytes, char fill) {
  return MadeSnapshot{key, {"a.js", "b.js"}, std::string(bytes, fill), build};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

void SetUsed(const std::string& path, time_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(SnapshotDiskCacheTest, AStoredBlobLoadsForItsKeyAndBuildOnly) {
  testing::TempDir dir;
  auto cache = SnapshotDiskCache::Open(dir.path() + "/snapshots", 64u << 20, kMaxBlob);
  ASSERT_TRUE(cache.ok()) << cache.status();
  const MadeSnapshot made = Made("key-1", "build-1", 1000, 'x');
  ASSERT_TRUE((*cache)->Store(made).ok());

  std::optional<MadeSnapshot> loaded = (*cache)->Load("key-1", "build-1");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->key, made.key);
  EXPECT_EQ(loaded->build, made.build);
  EXPECT_EQ(loaded->blob, made.blob);
  EXPECT_EQ(loaded->module_paths, made.module_paths);

  EXPECT_FALSE((*cache)->Load("key-1", "build-2").has_value());  // another build: another file
  EXPECT_FALSE((*cache)->Load("key-2", "build-1").has_value());
  EXPECT_EQ((*cache)->stats().loaded, 1u);
  EXPECT_EQ((*cache)->stats().rejected, 0u);
}

TEST(SnapshotDiskCacheTest, ANameNeverComesFromTheKey) {
  testing::TempDir dir;
  auto cache = SnapshotDiskCache::Open(dir.path(), 64u << 20, kMaxBlob);
  ASSERT_TRUE(cache.ok());
  const std::string path = (*cache)->PathOf("../../etc/passwd\n", "x/y");
  ASSERT_EQ(path.rfind(dir.path() + "/", 0), 0u);
  const std::string name = path.substr(dir.path().size() + 1);
  EXPECT_EQ(name.size(), 64u + 5u) << name;
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), 64u) << name;
  // (key, build) pairs that concatenate alike still have files of their own.
  EXPECT_NE((*cache)->PathOf("ab", "c"), (*cache)->PathOf("a", "bc"));
}

TEST(SnapshotDiskCacheTest, EveryDamagedFileIsRefusedAndRemoved) {
  testing::TempDir dir;
  auto cache = SnapshotDiskCache::Open(dir.path(), 64u << 20, kMaxBlob);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE((*cache)->Store(Made("key", "build", 4096, 'b')).ok());
  const std::string path = (*cache)->PathOf("key", "build");
  const std::string good = ReadAll(path);
  ASSERT_GT(good.size(), 4096u);

  struct Damage {
    const char* what;
    std::string bytes;
  };
  std::string flipped = good;
  flipped[flipped.size() - 100] ^= 0x01;  // a bit in the blob
  std::string digest_flipped = good;
  digest_flipped[30] ^= 0x40;  // a bit in the stored SHA-256
  const Damage damages[] = {
      {"a flipped bit in the blob", flipped},
      {"a flipped bit in the hash", digest_flipped},
      {"cut short", good.substr(0, good.size() / 2)},
      {"only the magic", good.substr(0, 26)},
      {"empty", ""},
      {"another format", std::string(5000, 'z')},
  };
  uint64_t rejected = 0;
  for (const Damage& damage : damages) {
    WriteAll(path, damage.bytes);
    EXPECT_FALSE((*cache)->Load("key", "build").has_value()) << damage.what;
    EXPECT_EQ((*cache)->stats().rejected, ++rejected) << damage.what;
    EXPECT_FALSE(Exists(path)) << damage.what;
  }

  // An intact file under another version's name (copied, or a hash collision of names).
  ASSERT_TRUE((*cache)->Store(Made("other", "build", 4096, 'o')).ok());
  WriteAll(path, ReadAll((*cache)->PathOf("other", "build")));
  EXPECT_FALSE((*cache)->Load("key", "build").has_value());
  EXPECT_EQ((*cache)->stats().rejected, ++rejected);
  EXPECT_TRUE((*cache)->Load("other", "build").has_value());

  // A link is not followed.
  ASSERT_EQ(symlink((*cache)->PathOf("other", "build").c_str(), path.c_str()), 0);
  EXPECT_FALSE((*cache)->Load("key", "build").has_value());
}

TEST(SnapshotDiskCacheTest, TheLeastRecentlyUsedGoFirstPastTheBound) {
  testing::TempDir dir;
  // Room for three 100 KB files, not four.
  auto cache = SnapshotDiskCache::Open(dir.path(), 350u << 10, kMaxBlob);
  ASSERT_TRUE(cache.ok());
  for (const char* key : {"one", "two", "three"}) ASSERT_TRUE((*cache)->Store(Made(key, "b", 100 << 10, key[0])).ok());
  // Used long ago, in this order; then "one" is read again (Load marks it used now).
  SetUsed((*cache)->PathOf("one", "b"), 1000);
  SetUsed((*cache)->PathOf("two", "b"), 2000);
  SetUsed((*cache)->PathOf("three", "b"), 3000);
  ASSERT_TRUE((*cache)->Load("one", "b").has_value());

  ASSERT_TRUE((*cache)->Store(Made("four", "b", 100 << 10, 'f')).ok());
  EXPECT_FALSE(Exists((*cache)->PathOf("two", "b")));  // the least recently used
  EXPECT_TRUE(Exists((*cache)->PathOf("one", "b")));
  EXPECT_TRUE(Exists((*cache)->PathOf("three", "b")));
  EXPECT_TRUE(Exists((*cache)->PathOf("four", "b")));
  EXPECT_EQ((*cache)->stats().removed, 1u);

  // A blob larger than the whole bound is still kept (alone) rather than written and lost.
  auto small = SnapshotDiskCache::Open(dir.path(), 50u << 10, kMaxBlob);
  ASSERT_TRUE(small.ok());
  ASSERT_TRUE((*small)->Store(Made("five", "b", 100 << 10, 'v')).ok());
  EXPECT_TRUE((*small)->Load("five", "b").has_value());
  EXPECT_FALSE(Exists((*cache)->PathOf("one", "b")));
}

TEST(SnapshotDiskCacheTest, OpeningRemovesWhatACrashLeftAndNothingElse) {
  testing::TempDir dir;
  auto cache = SnapshotDiskCache::Open(dir.path(), 64u << 20, kMaxBlob);
  ASSERT_TRUE(cache.ok());
  const std::string temporary = (*cache)->PathOf("k", "b") + ".tmp";
  WriteAll(temporary, "half a blob");
  WriteAll(dir.path() + "/notes.txt", "an operator's file");
  WriteAll(dir.path() + "/notes.tmp", "not ours either");
  auto reopened = SnapshotDiskCache::Open(dir.path(), 64u << 20, kMaxBlob);
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(Exists(temporary));
  EXPECT_TRUE(Exists(dir.path() + "/notes.txt"));
  EXPECT_TRUE(Exists(dir.path() + "/notes.tmp"));
}

TEST(SnapshotDiskCacheTest, ABlobPastTheLimitIsNotRead) {
  testing::TempDir dir;
  auto writer = SnapshotDiskCache::Open(dir.path(), 64u << 20, 8u << 20);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Store(Made("big", "b", 2u << 20, 'g')).ok());
  auto reader = SnapshotDiskCache::Open(dir.path(), 64u << 20, 1u << 20);
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->Load("big", "b").has_value());
  EXPECT_EQ((*reader)->stats().rejected, 1u);
}

}  // namespace
}  // namespace isobar::supervisor
