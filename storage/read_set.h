// What a transaction read, as intervals of encoded index keys per index (CONVEX_SEMANTICS.md §2).
// A commit conflicts with the transaction when any old or new index key it wrote lies inside one of
// these intervals. Intervals are half-open [start, end); no end means unbounded above.
#ifndef ISOBAR_STORAGE_READ_SET_H_
#define ISOBAR_STORAGE_READ_SET_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "storage/persistence.h"
#include "storage/types.h"

namespace isobar::storage {

class ReadSet {
 public:
  explicit ReadSet(size_t max_intervals = 4096) : max_intervals_(max_intervals) {}

  // RESOURCE_EXHAUSTED past the interval limit (Convex's TooManyReads).
  absl::Status Add(IndexId index, KeyRange interval);
  bool Contains(IndexId index, const std::string& key) const;
  size_t intervals() const { return count_; }
  const std::map<IndexId, std::vector<KeyRange>>& by_index() const { return intervals_; }

 private:
  size_t max_intervals_;
  size_t count_ = 0;
  std::map<IndexId, std::vector<KeyRange>> intervals_;
};

}  // namespace isobar::storage

#endif  // ISOBAR_STORAGE_READ_SET_H_
