// The document and index logs on a real PostgreSQL: snapshot reads, ranges in both orders, tombstones,
// long keys, lease fencing, and isolation between deployments.
#include "storage/persistence.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/index_key.h"
#include "storage/pg_testing.h"

namespace isobar::storage {
namespace {

using ::testing::HasSubstr;

InternalId Id(uint8_t n) {
  InternalId id{};
  id[0] = n;
  id[15] = 0xAB;
  return id;
}

std::string Key(int64_t n) { return EncodeIndexKey({Value::Int64(n)}); }

IndexWrite Entry(IndexId index, int64_t key, uint8_t doc) { return IndexWrite{index, Key(key), false, TableNumber(10001), Id(doc)}; }
IndexWrite Tombstone(IndexId index, int64_t key) { return IndexWrite{index, Key(key), true, TableNumber(0), {}}; }

std::vector<int64_t> Keys(const std::vector<IndexRow>& rows) {
  std::vector<int64_t> out;
  for (const IndexRow& r : rows) out.push_back((*DecodeIndexKey(r.key))[0].int64());
  return out;
}

class PersistenceTest : public ::testing::Test {
 protected:
  PgPool& pool_ = testing::SharedPostgres().pool();
  Persistence persistence_{pool_, testing::NewDeployment(pool_)};
  const TableNumber table_{10001};
  const IndexId index_{7};
};

TEST_F(PersistenceTest, ReadsAtATimestampSeeThatSnapshot) {
  LeaseEpoch lease = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  CommitWrites c1{Timestamp(100), {{table_, Id(1), std::nullopt, R"({"v":1})"}}, {}};
  CommitWrites c2{Timestamp(200), {{table_, Id(1), Timestamp(100), R"({"v":2})"}}, {}};
  CommitWrites c3{Timestamp(300), {{table_, Id(1), Timestamp(200), std::nullopt}}, {}};
  ASSERT_TRUE(persistence_.Write({c1, c2}, lease).ok());
  ASSERT_TRUE(persistence_.Write({c3}, lease).ok());

  EXPECT_FALSE(persistence_.Get(table_, Id(1), Timestamp(99))->has_value());
  std::optional<StoredDocument> at150 = *persistence_.Get(table_, Id(1), Timestamp(150));
  ASSERT_TRUE(at150.has_value());
  EXPECT_EQ(at150->value_json, R"({"v":1})");
  EXPECT_EQ(at150->ts, Timestamp(100));
  std::optional<StoredDocument> at299 = *persistence_.Get(table_, Id(1), Timestamp(299));
  ASSERT_TRUE(at299.has_value());
  EXPECT_EQ(at299->value_json, R"({"v":2})");
  EXPECT_EQ(at299->prev_ts, Timestamp(100));
  EXPECT_FALSE(persistence_.Get(table_, Id(1), Timestamp(300))->has_value());  // deleted

  EXPECT_EQ(*persistence_.MaxTimestamp(), Timestamp(300));
  EXPECT_TRUE(*persistence_.CommitExists(Timestamp(200)));
  EXPECT_FALSE(*persistence_.CommitExists(Timestamp(250)));
}

TEST_F(PersistenceTest, IndexScansPickTheNewestEntryPerKey) {
  LeaseEpoch lease = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  CommitWrites c1{Timestamp(10), {}, {}};
  for (uint8_t i = 1; i <= 5; ++i) {
    c1.documents.push_back({table_, Id(i), std::nullopt, absl::StrCat(R"({"k":)", i, "}")});
    c1.index_entries.push_back(Entry(index_, i, i));
  }
  // At ts 20 document 3 moves from key 3 to key 30, and document 5 is deleted.
  CommitWrites c2{Timestamp(20),
                  {{table_, Id(3), Timestamp(10), R"({"k":30})"}, {table_, Id(5), Timestamp(10), std::nullopt}},
                  {Tombstone(index_, 3), Entry(index_, 30, 3), Tombstone(index_, 5)}};
  ASSERT_TRUE(persistence_.Write({c1, c2}, lease).ok());

  auto scan = [&](KeyRange range, Order order, int64_t ts, size_t limit = 100) {
    absl::StatusOr<std::vector<IndexRow>> rows = persistence_.Scan(index_, range, order, Timestamp(ts), limit);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? Keys(*rows) : std::vector<int64_t>{};
  };
  EXPECT_EQ(scan({}, Order::kAsc, 15), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(scan({}, Order::kAsc, 20), (std::vector<int64_t>{1, 2, 4, 30}));
  EXPECT_EQ(scan({}, Order::kDesc, 20), (std::vector<int64_t>{30, 4, 2, 1}));
  EXPECT_EQ(scan({Key(2), Key(30)}, Order::kAsc, 20), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(scan({Key(2), Key(30)}, Order::kDesc, 20), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(scan({}, Order::kAsc, 20, 2), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(scan({}, Order::kAsc, 5), (std::vector<int64_t>{}));

  std::vector<IndexRow> rows = *persistence_.Scan(index_, {Key(30), std::nullopt}, Order::kAsc, Timestamp(20), 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].doc, Id(3));
  EXPECT_EQ(rows[0].document.value_json, R"({"k":30})");
  EXPECT_EQ(rows[0].document.ts, Timestamp(20));
}

TEST_F(PersistenceTest, ScansPageOverManyTombstones) {
  LeaseEpoch lease = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  CommitWrites live{Timestamp(1), {}, {}};
  CommitWrites dead{Timestamp(2), {}, {}};
  for (int i = 0; i < 300; ++i) {
    uint8_t doc = static_cast<uint8_t>(i % 250);
    live.index_entries.push_back(Entry(index_, i, doc));
    if (i < 290) dead.index_entries.push_back(Tombstone(index_, i));
  }
  live.documents.push_back({table_, Id(0), std::nullopt, "{}"});
  for (int i = 1; i < 250; ++i) live.documents.push_back({table_, Id(static_cast<uint8_t>(i)), std::nullopt, "{}"});
  dead.documents.push_back({table_, Id(0), Timestamp(1), "{}"});
  ASSERT_TRUE(persistence_.Write({live, dead}, lease).ok());
  std::vector<IndexRow> rows = *persistence_.Scan(index_, {}, Order::kAsc, Timestamp(2), 5);
  EXPECT_EQ(Keys(rows), (std::vector<int64_t>{290, 291, 292, 293, 294}));
  rows = *persistence_.Scan(index_, {}, Order::kDesc, Timestamp(2), 100);
  EXPECT_EQ(rows.size(), 10u);
}

TEST_F(PersistenceTest, LongKeysAndHostileBytesAreData) {
  LeaseEpoch lease = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  std::string hostile = std::string("'); DROP TABLE isobar.documents; --\0\"\\x", 40);
  std::string long_key = EncodeIndexKey({Value::String(std::string(2000, 'k') + hostile)});
  CommitWrites c{Timestamp(5),
                 {{table_, Id(9), std::nullopt, "{\"s\":\"" + std::string(3000, 'v') + "\\\"'\"}"}},
                 {IndexWrite{index_, long_key, false, table_, Id(9)}}};
  ASSERT_TRUE(persistence_.Write({c}, lease).ok());
  std::vector<IndexRow> rows = *persistence_.Scan(index_, {}, Order::kAsc, Timestamp(5), 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key, long_key);
  EXPECT_EQ(rows[0].document.value_json, "{\"s\":\"" + std::string(3000, 'v') + "\\\"'\"}");
}

TEST_F(PersistenceTest, ASecondWriterFencesTheFirst) {
  LeaseEpoch first = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  ASSERT_TRUE(persistence_.Write({{Timestamp(1), {{table_, Id(1), std::nullopt, "{}"}}, {}}}, first).ok());
  Persistence other(pool_, persistence_.deployment());
  LeaseEpoch second = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  absl::Status fenced = persistence_.Write({{Timestamp(2), {{table_, Id(2), std::nullopt, "{}"}}, {}}}, first);
  EXPECT_EQ(fenced.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fenced.message(), HasSubstr("lease lost"));
  EXPECT_FALSE(*persistence_.CommitExists(Timestamp(2)));
  EXPECT_TRUE(other.Write({{Timestamp(3), {{table_, Id(3), std::nullopt, "{}"}}, {}}}, second).ok());
}

TEST_F(PersistenceTest, DeploymentsDoNotSeeEachOther) {
  LeaseEpoch lease = AcquireLease(pool_, persistence_.deployment(), {})->epoch;
  ASSERT_TRUE(persistence_.Write({{Timestamp(1), {{table_, Id(1), std::nullopt, "{}"}}, {Entry(index_, 1, 1)}}}, lease).ok());
  Persistence stranger(pool_, testing::NewDeployment(pool_));
  EXPECT_FALSE(stranger.Get(table_, Id(1), Timestamp(10))->has_value());
  EXPECT_TRUE(stranger.Scan(index_, {}, Order::kAsc, Timestamp(10), 10)->empty());
  EXPECT_EQ(*stranger.MaxTimestamp(), Timestamp(0));
}

}  // namespace
}  // namespace isobar::storage
