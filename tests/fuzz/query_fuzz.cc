// Query JSON from user code: parsed, compiled against indexes of several shapes (user, by_id,
// by_creation_time), and its filters evaluated against a document, without a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "storage/convex_json.h"
#include "storage/query.h"
#include "tests/fuzz/fuzz_checks.h"

namespace {

using isobar::storage::IndexInfo;
using isobar::storage::Value;

const IndexInfo kIndexes[] = {
    {isobar::storage::IndexId(3), isobar::storage::TableNumber(10001), "by_a_b", {"a", "b", "_creationTime", "_id"}, true},
    {isobar::storage::IndexId(1), isobar::storage::TableNumber(10001), "by_id", {"_id"}, true},
    {isobar::storage::IndexId(2), isobar::storage::TableNumber(10001), "by_creation_time", {"_creationTime", "_id"}, true},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  isobar::storage::ConvexJsonOptions plain;
  plain.plain = true;
  absl::StatusOr<Value> json = isobar::storage::ParseConvexJson(
      std::string(reinterpret_cast<const char*>(data), size), plain);
  if (!json.ok()) return 0;
  absl::StatusOr<isobar::storage::Query> query = isobar::storage::ParseQuery(*json);
  if (!query.ok()) return 0;
  for (const IndexInfo& index : kIndexes) {
    (void)isobar::storage::CompileRange(index, "t.x", query->range);
  }
  static const Value* const kDocument = new Value(*isobar::storage::ParseConvexJson(
      R"({"_id":"j57028t5cy4tqkff04hmasw9nd86rqvv","_creationTime":1.7e12,"a":1,"b":"x","c":{"d":[1,2,{"$integer":"AQAAAAAAAAA="}]},"n":null})"));
  for (const isobar::storage::QueryOperator& op : query->operators) {
    if (op.filter != nullptr) (void)isobar::storage::Evaluate(*op.filter, *kDocument);
  }
  return 0;
}
