#include "core/arena.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace mad {

void AlignedFree::operator()(void* p) const noexcept { std::free(p); }

AlignedPtr aligned_alloc_bytes(size_t bytes) {
  const size_t rounded = (bytes + Arena::kAlign - 1) / Arena::kAlign * Arena::kAlign;
  void* p = std::aligned_alloc(Arena::kAlign, rounded == 0 ? Arena::kAlign : rounded);
  if (p == nullptr) throw std::bad_alloc();
  return AlignedPtr(static_cast<std::byte*>(p));
}

Arena::Arena(size_t initial_bytes) {
  blocks_.reserve(16);
  blocks_.push_back({aligned_alloc_bytes(initial_bytes), initial_bytes, 0});
}

void* Arena::allocate(size_t bytes) {
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  Block* block = &blocks_.back();
  if (block->used + rounded > block->size) {
    // Growth happens only while the arena learns the size of a step.
    const size_t size = std::max(rounded, block->size * 2);
    blocks_.push_back({aligned_alloc_bytes(size), size, 0});
    block = &blocks_.back();
  }
  void* p = block->memory.get() + block->used;
  block->used += rounded;
  used_total_ += rounded;
  if (used_total_ > high_water_) high_water_ = used_total_;
  return p;
}

void Arena::reset() {
  if (blocks_.size() > 1) {
    // Consolidate: one block that holds the largest step seen so far, with a little headroom.
    const size_t size = high_water_ + high_water_ / 8 + kAlign;
    blocks_.clear();
    blocks_.push_back({aligned_alloc_bytes(size), size, 0});
  }
  blocks_.back().used = 0;
  used_total_ = 0;
}

size_t Arena::capacity() const {
  size_t c = 0;
  for (const auto& b : blocks_) c += b.size;
  return c;
}

}  // namespace mad
