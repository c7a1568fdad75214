// What a transaction read, as intervals of encoded index keys per index (CONVEX_SEMANTICS.md §2).
// A commit conflicts with the transaction when any old or new index key it wrote lies inside one of
// these intervals. Intervals are half-open [start, end); no end means unbounded above.
#ifndef ISOBAR_STORAGE_READ_SET_H_
#define ISOBAR_STORAGE_READ_SET_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "storage/persistence.h"
#include "storage/types.h"

namespace isobar::storage {

// Convex's advice after a read limit's message ("... (limit: 32000). Consider ...").
inline constexpr char kReadLimitHelp[] =
    "Consider using smaller limits in your queries, paginating your queries, or using indexed queries with a "
    "selective index range expressions.";

class ReadSet {
 public:
  explicit ReadSet(size_t max_intervals = 4096) : max_intervals_(max_intervals) {}

  // RESOURCE_EXHAUSTED past the interval limit (Convex's TooManyReads). An interval already held is
  // not counted again (Convex merges a read set's ranges: the same query twice reads one range).
  absl::Status Add(IndexId index, KeyRange interval);
  bool Contains(IndexId index, const std::string& key) const;
  size_t intervals() const { return count_; }
  const std::map<IndexId, std::vector<KeyRange>>& by_index() const { return intervals_; }

 private:
  size_t max_intervals_;
  size_t count_ = 0;
  std::map<IndexId, std::vector<KeyRange>> intervals_;
  absl::flat_hash_set<std::string> held_;  // each interval's (index, start, end), encoded
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_READ_SET_H_
