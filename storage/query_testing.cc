#include "storage/query_testing.h"

#include "gtest/gtest.h"
#include "storage/query.h"
#include "storage/value_testing.h"

namespace isobar::storage::testing {

std::vector<Value> RunQueryForTest(Database& db, absl::string_view query_json) {
  ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Query> query = ParseQuery(ParseForTest(query_json, plain));
  EXPECT_TRUE(query.ok()) << query.status() << " " << query_json;
  std::vector<Value> out;
  if (!query.ok()) return out;
  std::unique_ptr<Transaction> txn = db.Begin();
  absl::StatusOr<std::unique_ptr<QueryStream>> stream = QueryStream::Open(*txn, *query);
  EXPECT_TRUE(stream.ok()) << stream.status();
  while (stream.ok()) {
    absl::StatusOr<std::optional<Value>> doc = (*stream)->Next(*txn);
    EXPECT_TRUE(doc.ok()) << doc.status();
    if (!doc.ok() || !doc->has_value()) break;
    out.push_back(**doc);
  }
  return out;
}

}  // namespace isobar::storage::testing
