// Arena: bump allocation for everything a training step creates (activations, gradients of
// intermediates, saved tensors), released all at once by reset().
//
// The first steps grow the arena; reset() then folds what was used into a single block large enough
// for the whole step, so every later step of the same shape allocates nothing from the heap.
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
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Uninitialised memory of `bytes` bytes, aligned to kAlign, valid until reset().
  void* allocate(size_t bytes);

  // Releases everything allocated since the last reset. Keeps (and, after growth, consolidates) the
  // memory for the next step.
  void reset();

  size_t bytes_in_use() const { return used_total_; }
  size_t capacity() const;
  size_t high_water() const { return high_water_; }

 private:
  struct Block {
    AlignedPtr memory;
    size_t size = 0;
    size_t used = 0;
  };
  std::vector<Block> blocks_;
  size_t used_total_ = 0;
  size_t high_water_ = 0;
};

}  // namespace mad
