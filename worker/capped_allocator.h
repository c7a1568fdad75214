// An ArrayBuffer allocator with a byte budget: memory outside the V8 heap (ArrayBuffer backing stores)
// is capped too. Past the budget an allocation returns null, which V8 turns into a RangeError in
// JavaScript ("Array buffer allocation failed"), so `new ArrayBuffer(2**30)` fails the statement,
// not the worker (SECURITY.md §5 case 3). Thread-safe: V8 may free from its GC threads.
#ifndef ISOBAR_WORKER_CAPPED_ALLOCATOR_H_
#define ISOBAR_WORKER_CAPPED_ALLOCATOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "v8-array-buffer.h"

namespace isobar::worker {

class CappedArrayBufferAllocator final : public v8::ArrayBuffer::Allocator {
 public:
  // At most `budget_bytes` in all, and `max_one_bytes` in one buffer.
  explicit CappedArrayBufferAllocator(size_t budget_bytes, size_t max_one_bytes = SIZE_MAX)
      : budget_(budget_bytes), max_one_(max_one_bytes) {}

  void* Allocate(size_t length) override;
  void* AllocateUninitialized(size_t length) override;
  void Free(void* data, size_t length) override;

  size_t used() const { return used_.load(std::memory_order_relaxed); }
  // Allocations refused so far (over the budget or the one-buffer cap).
  uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 private:
  bool Reserve(size_t length);
  const size_t budget_;
  const size_t max_one_;
  std::atomic<size_t> used_{0};
  std::atomic<uint64_t> refusals_{0};
};

}  // namespace isobar::worker

#endif  // ISOBAR_WORKER_CAPPED_ALLOCATOR_H_
