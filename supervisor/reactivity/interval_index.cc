#include "supervisor/reactivity/interval_index.h"

#include <atomic>

namespace isobar::supervisor {

// Nodes are only added in Insert, before any recursion: references into nodes_ stay valid below.

uint32_t IntervalIndex::NextSeed() {
  static std::atomic<uint64_t> next{(static_cast<uint64_t>(std::random_device()()) << 32) | std::random_device()()};
  uint64_t z = next.fetch_add(0x9E3779B97F4A7C15ull, std::memory_order_relaxed);  // splitmix64
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return static_cast<uint32_t>(z ^ (z >> 31)) | 1u;  // minstd needs a non-zero seed
}

bool IntervalIndex::Before(int32_t a, int32_t b) const {
  const int order = nodes_[static_cast<size_t>(a)].range->start.compare(nodes_[static_cast<size_t>(b)].range->start);
  return order != 0 ? order < 0 : a < b;
}

bool IntervalIndex::EndsAfter(int32_t a, int32_t b) const {
  const std::optional<std::string>& ea = nodes_[static_cast<size_t>(a)].range->end;
  const std::optional<std::string>& eb = nodes_[static_cast<size_t>(b)].range->end;
  if (!ea.has_value()) return eb.has_value();
  return eb.has_value() && *ea > *eb;
}

void IntervalIndex::Update(int32_t node) {
  Node& n = nodes_[static_cast<size_t>(node)];
  n.max_end = node;
  for (int32_t child : {n.left, n.right}) {
    if (child == kNone) continue;
    const int32_t candidate = nodes_[static_cast<size_t>(child)].max_end;
    if (EndsAfter(candidate, n.max_end)) n.max_end = candidate;
  }
}

void IntervalIndex::Split(int32_t tree, int32_t pivot, int32_t* before, int32_t* after) {
  if (tree == kNone) {
    *before = *after = kNone;
    return;
  }
  Node& n = nodes_[static_cast<size_t>(tree)];
  if (Before(tree, pivot)) {
    Split(n.right, pivot, &n.right, after);
    *before = tree;
  } else {
    Split(n.left, pivot, before, &n.left);
    *after = tree;
  }
  Update(tree);
}

int32_t IntervalIndex::Merge(int32_t before, int32_t after) {
  if (before == kNone) return after;
  if (after == kNone) return before;
  Node& b = nodes_[static_cast<size_t>(before)];
  Node& a = nodes_[static_cast<size_t>(after)];
  if (b.priority > a.priority) {
    b.right = Merge(b.right, after);
    Update(before);
    return before;
  }
  a.left = Merge(before, a.left);
  Update(after);
  return after;
}

int32_t IntervalIndex::InsertInto(int32_t tree, int32_t node) {
  if (tree == kNone) return node;
  Node& t = nodes_[static_cast<size_t>(tree)];
  Node& n = nodes_[static_cast<size_t>(node)];
  if (n.priority > t.priority) {
    Split(tree, node, &n.left, &n.right);
    Update(node);
    return node;
  }
  if (Before(node, tree)) {
    t.left = InsertInto(t.left, node);
  } else {
    t.right = InsertInto(t.right, node);
  }
  Update(tree);
  return tree;
}

int32_t IntervalIndex::EraseFrom(int32_t tree, int32_t node) {
  Node& t = nodes_[static_cast<size_t>(tree)];
  if (tree == node) return Merge(t.left, t.right);
  if (Before(node, tree)) {
    t.left = EraseFrom(t.left, node);
  } else {
    t.right = EraseFrom(t.right, node);
  }
  Update(tree);
  return tree;
}

IntervalIndex::Handle IntervalIndex::Insert(const storage::KeyRange* range, uint64_t tag) {
  int32_t node;
  if (!free_.empty()) {
    node = free_.back();
    free_.pop_back();
  } else {
    node = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  nodes_[static_cast<size_t>(node)] = Node{range, tag, static_cast<uint32_t>(priorities_()), kNone, kNone, node};
  root_ = InsertInto(root_, node);
  ++size_;
  return static_cast<Handle>(node);
}

void IntervalIndex::Erase(Handle handle) {
  const int32_t node = static_cast<int32_t>(handle);
  root_ = EraseFrom(root_, node);
  nodes_[static_cast<size_t>(node)] = Node{};
  free_.push_back(node);
  --size_;
}

}  // namespace isobar::supervisor
