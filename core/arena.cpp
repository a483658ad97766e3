#include "core/arena.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/budget.h"
#include "core/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MAD_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define MAD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define MAD_POISON(p, n) ((void)(p), (void)(n))
#define MAD_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace mad {

void AlignedFree::operator()(void* p) const noexcept { std::free(p); }

AlignedPtr aligned_alloc_bytes(size_t bytes) {
  // Every tensor and arena block comes through here: one beyond the budget is a one-line error, not an
  // out-of-memory kill (Shape guarantees `bytes` did not overflow).
  if (bytes > static_cast<size_t>(memory_budget()))
    check_memory(static_cast<int64_t>(bytes), "a tensor or activation block",
                 "reduce the batch size, the sequence length or the model's sizes");
  const size_t rounded = (bytes + Arena::kAlign - 1) / Arena::kAlign * Arena::kAlign;
  void* p = std::aligned_alloc(Arena::kAlign, rounded == 0 ? Arena::kAlign : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return AlignedPtr(static_cast<std::byte*>(p));
}

Arena::Arena(size_t initial_bytes) {
  blocks_.reserve(16);
  free_.reserve(256);
  blocks_.push_back({aligned_alloc_bytes(initial_bytes), initial_bytes, 0});
}

Arena::~Arena() {
  for (const Block& b : blocks_) MAD_UNPOISON(b.memory.get(), b.size);
}

// Best fit: the smallest released range that holds `size`; its front is taken, the rest stays free.
void* Arena::take_from_free_list(size_t size) {
  size_t best = free_.size();
  for (size_t i = 0; i < free_.size(); ++i)
    if (free_[i].size >= size && (best == free_.size() || free_[i].size < free_[best].size)) best = i;
  if (best == free_.size()) return nullptr;
  std::byte* p = free_[best].begin;
  if (free_[best].size == size) {
    free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
  } else {
    free_[best].begin += size;
    free_[best].size -= size;
  }
  return p;
}

void* Arena::allocate(size_t bytes) {
  const size_t size = rounded(bytes);
  void* p = size > 0 ? take_from_free_list(size) : nullptr;
  if (p == nullptr) {
    Block* block = &blocks_.back();
    if (block->used + size > block->size) {
      // Growth happens only while the arena learns the size of a step. Doubling keeps growths few; near
      // the memory budget a block takes only what this allocation needs, and blocks held plus the new one
      // beyond the budget stop the step with one line before the memory is taken: one step's activations
      // are bounded like the parameters and the dataset, which are checked before they exist.
      const size_t held = capacity(), budget = static_cast<size_t>(memory_budget());
      size_t grown = std::max(size, block->size * 2);
      if (held + grown > budget) grown = size;
      if (held + grown > budget)
        check_memory(static_cast<int64_t>(held + grown), "one training step's activations",
                     "reduce batch_size or seq_len (or the model's dim or layers), or raise --max-memory");
      blocks_.push_back({aligned_alloc_bytes(grown), grown, 0});
      block = &blocks_.back();
    }
    p = block->memory.get() + block->used;
    block->used += size;
    bumped_total_ += size;
    high_water_ = std::max(high_water_, bumped_total_);
  }
  used_total_ += size;
  MAD_UNPOISON(p, size);
  return p;
}

void Arena::release(void* p, size_t bytes) {
  const size_t size = rounded(bytes);
  if (p == nullptr || size == 0) return;
  auto* begin = static_cast<std::byte*>(p);
  if (fill_released_) std::memset(begin, 0xFF, size);
  MAD_POISON(begin, size);
  used_total_ -= size;
  // Insert in address order and merge with the neighbours it touches.
  auto at = std::lower_bound(free_.begin(), free_.end(), begin,
                             [](const FreeRange& r, const std::byte* b) { return r.begin < b; });
  MAD_CHECK(at == free_.end() || begin + size <= at->begin, "Arena::release: range released twice");
  MAD_CHECK(at == free_.begin() || std::prev(at)->begin + std::prev(at)->size <= begin,
            "Arena::release: range released twice");
  if (at != free_.begin() && std::prev(at)->begin + std::prev(at)->size == begin) {
    auto prev = std::prev(at);
    prev->size += size;
    if (at != free_.end() && prev->begin + prev->size == at->begin) {
      prev->size += at->size;
      free_.erase(at);
    }
  } else if (at != free_.end() && begin + size == at->begin) {
    at->begin = begin;
    at->size += size;
  } else {
    free_.insert(at, {begin, size});
  }
}

void Arena::reset() {
  if (blocks_.size() > 1) {
    // Consolidate: one block that holds the largest step seen so far, with a little headroom.
    // (never past the budget that the step itself kept within).
    const size_t size = std::max(high_water_, std::min(high_water_ + high_water_ / 8 + kAlign,
                                                       static_cast<size_t>(memory_budget())));
    for (const Block& b : blocks_) MAD_UNPOISON(b.memory.get(), b.size);
    blocks_.clear();
    blocks_.push_back({aligned_alloc_bytes(size), size, 0});
  }
  blocks_.back().used = 0;
  free_.clear();
  used_total_ = 0;
  bumped_total_ = 0;
}

size_t Arena::capacity() const {
  size_t c = 0;
  for (const auto& b : blocks_) c += b.size;
  return c;
}

}  // namespace mad
