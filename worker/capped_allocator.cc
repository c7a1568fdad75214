#include "worker/capped_allocator.h"

#include <cstdlib>

namespace isobar::worker {

bool CappedArrayBufferAllocator::Reserve(size_t length) {
  if (length > max_one_) {
    refusals_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  size_t used = used_.load(std::memory_order_relaxed);
  do {
    if (length > budget_ || used > budget_ - length) {
      refusals_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  } while (!used_.compare_exchange_weak(used, used + length, std::memory_order_relaxed));
  return true;
}

void* CappedArrayBufferAllocator::Allocate(size_t length) {
  if (!Reserve(length)) return nullptr;
  void* data = std::calloc(length == 0 ? 1 : length, 1);
  if (data == nullptr) used_.fetch_sub(length, std::memory_order_relaxed);
  return data;
}

void* CappedArrayBufferAllocator::AllocateUninitialized(size_t length) {
  if (!Reserve(length)) return nullptr;
  void* data = std::malloc(length == 0 ? 1 : length);
  if (data == nullptr) used_.fetch_sub(length, std::memory_order_relaxed);
  return data;
}

void CappedArrayBufferAllocator::Free(void* data, size_t length) {
  std::free(data);
  used_.fetch_sub(length, std::memory_order_relaxed);
}

}  // namespace isobar::worker
