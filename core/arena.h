// Arena: memory for everything a training step creates (activations, gradients of intermediates, saved
// tensors), released all at once by reset().
//
// Allocation bumps a pointer. Memory handed back early with release() goes to a free list that later
// allocations draw from (best fit, split, adjacent ranges merged), so a backward pass that frees what it
// no longer needs reuses it instead of growing the step's footprint. The first steps grow the arena;
// reset() then folds the blocks into one large enough for the whole step, so every later step of the
// same shape allocates nothing from the heap. The sequence of allocations and releases decides every
// address, so a step's memory layout is the same each time it runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mad {

// 64-byte aligned heap memory (one cache line; enough for AVX-512 loads).
struct AlignedFree {
  void operator()(void* p) const noexcept;
};
using AlignedPtr = std::unique_ptr<std::byte, AlignedFree>;
AlignedPtr aligned_alloc_bytes(size_t bytes);

class Arena {
 public:
  static constexpr size_t kAlign = 64;

  explicit Arena(size_t initial_bytes = 1 << 20);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Uninitialised memory of `bytes` bytes, aligned to kAlign, valid until reset() or its release().
  void* allocate(size_t bytes);

  // Hands back memory from allocate(p, bytes) (the same `bytes`) for reuse before reset(). With
  // fill_released, the bytes are overwritten with 0xFF (a NaN in every float) so that a later read of
  // released memory shows up in results; under AddressSanitizer they are poisoned instead.
  void release(void* p, size_t bytes);
  void set_fill_released(bool on) { fill_released_ = on; }

  // Releases everything allocated since the last reset. Keeps (and, after growth, consolidates) the
  // memory for the next step.
  void reset();

  size_t bytes_in_use() const { return used_total_; }  // allocated and not released
  size_t capacity() const;
  // The most memory the arena has had to provide at once since it was made: the step's footprint.
  size_t high_water() const { return high_water_; }

 private:
  struct Block {
    AlignedPtr memory;
    size_t size = 0;
    size_t used = 0;
  };
  struct FreeRange {
    std::byte* begin;
    size_t size;
  };
  static size_t rounded(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
  void* take_from_free_list(size_t size);

  std::vector<Block> blocks_;
  std::vector<FreeRange> free_;  // released ranges, sorted by address, adjacent ones merged
  size_t used_total_ = 0;        // bytes allocated and not released
  size_t bumped_total_ = 0;      // bytes handed out by bumping since reset (released or not)
  size_t high_water_ = 0;        // the most bumped_total_ has been
  bool fill_released_ = false;
};

}  // namespace mad
