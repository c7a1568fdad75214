// Half-open intervals of encoded keys, [start, end) with no end meaning unbounded above, each with a
// tag, and the question a commit asks of them: which intervals contain this key? Answered in
// O(log n + hits) expected: a treap ordered by start, each node knowing the greatest end in its
// subtree, so subtrees that end before the key and right subtrees that start after it are skipped.
//
//   IntervalIndex index;
//   IntervalIndex::Handle h = index.Insert(&read_set_range, /*tag=*/watch_id);
//   index.Stab(written_key, [&](uint64_t tag) { hit.push_back(tag); });
//   index.Erase(h);
//
// The ranges are borrowed, not copied: each must stay alive and unchanged until its entry is erased
// (the read tracker's read sets are immutable and outlive their watches). Nodes live in one vector
// (32 bytes each) and are reused after Erase. Not thread-safe.
#ifndef ISOBAR_SUPERVISOR_REACTIVITY_INTERVAL_INDEX_H_
#define ISOBAR_SUPERVISOR_REACTIVITY_INTERVAL_INDEX_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "storage/persistence.h"

namespace isobar::supervisor {

class IntervalIndex {
 public:
  using Handle = uint32_t;

  // `range` must outlive the entry. An empty range may be inserted; it contains nothing.
  Handle Insert(const storage::KeyRange* range, uint64_t tag);
  // `handle` must come from Insert and not be erased yet.
  void Erase(Handle handle);

  // Calls `visit(tag)` for every interval that contains `key` (once per interval).
  template <typename Visit>
  void Stab(absl::string_view key, Visit&& visit) const {
    StabFrom(root_, key, visit);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  static constexpr int32_t kNone = -1;
  static uint32_t NextSeed();
  struct Node {
    const storage::KeyRange* range = nullptr;
    uint64_t tag = 0;
    uint32_t priority = 0;
    int32_t left = kNone;
    int32_t right = kNone;
    int32_t max_end = kNone;  // the node of this subtree whose range ends last
  };

  // Order of nodes: by start, then by handle (so equal starts are distinct keys).
  bool Before(int32_t a, int32_t b) const;
  // Whether node a's end is after node b's (no end is after every end).
  bool EndsAfter(int32_t a, int32_t b) const;
  void Update(int32_t node);
  // Splits `tree` into nodes before `pivot` and the rest.
  void Split(int32_t tree, int32_t pivot, int32_t* before, int32_t* after);
  int32_t Merge(int32_t before, int32_t after);
  int32_t InsertInto(int32_t tree, int32_t node);
  int32_t EraseFrom(int32_t tree, int32_t node);

  template <typename Visit>
  void StabFrom(int32_t tree, absl::string_view key, Visit& visit) const {
    while (tree != kNone) {
      const Node& n = nodes_[static_cast<size_t>(tree)];
      const storage::KeyRange* last = nodes_[static_cast<size_t>(n.max_end)].range;
      if (last->end.has_value() && absl::string_view(*last->end) <= key) return;  // all end before key
      StabFrom(n.left, key, visit);
      if (absl::string_view(n.range->start) > key) return;  // this and everything to its right start after
      if (!n.range->end.has_value() || key < absl::string_view(*n.range->end)) visit(n.tag);
      tree = n.right;
    }
  }

  std::vector<Node> nodes_;
  std::vector<int32_t> free_;
  int32_t root_ = kNone;
  size_t size_ = 0;
  // Unpredictable, so that no order of inserts can shape the tree (seeded from one random_device).
  std::minstd_rand priorities_{NextSeed()};
};

}  // namespace isobar::supervisor

#endif  // ISOBAR_SUPERVISOR_REACTIVITY_INTERVAL_INDEX_H_
