// Parameters: named, hierarchical, and stored in one contiguous block with their gradients and the
// optimizer's two moment buffers.
//
//   block = [ values | grads | moment1 | moment2 ], each section `padded_size()` elements, every
//   parameter at the same offset in each section (offsets aligned to 16 elements = 64 bytes in float32).
//
// So zero_grad is one memset, the optimizer step is one loop over the block, and a checkpoint is the
// value section plus the name/shape/offset table. Models declare parameters (name, shape, initialiser)
// through a ParamScope; finalize() allocates the block and initialises every parameter in declaration
// order from one seeded generator.
#pragma once

#include <string>
#include <vector>

#include "core/init.h"
#include "core/tape.h"

namespace mad {

class ParamStore;

// A handle to one declared parameter.
class Param {
 public:
  Param() = default;
  Param(ParamStore* store, int index) : store_(store), index_(index) {}
  bool defined() const { return store_ != nullptr; }
  int index() const { return index_; }
  const Tensor& value() const;
  const Tensor& grad() const;
  // The parameter as a leaf on `tape` whose gradient accumulates into the parameter's gradient section.
  Var on(Tape& tape) const;

 private:
  ParamStore* store_ = nullptr;
  int index_ = -1;
};

class ParamStore {
 public:
  struct Entry {
    std::string name;  // e.g. "layers.2.attention.wqkv.weight"
    Shape shape;
    Init init;
    int64_t offset = 0;  // element offset within each section
    Tensor value, grad;  // views into the block (after finalize)
  };

  explicit ParamStore(DType dtype = DType::F32) : dtype_(dtype) {}
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;

  // Declares a parameter; names must be unique. Only before finalize().
  Param declare(const std::string& name, const Shape& shape, const Init& init);
  // Allocates the block and initialises every parameter, in declaration order, from `seed`.
  void finalize(uint64_t seed);
  // The generator finalize() draws from: a stream split off Rng(seed), never Rng(seed) itself, because
  // `mad data generate` draws a dataset from Rng(seed) and a run's seed defaults to its dataset's. Drawing
  // both from one stream made the initial weights a function of the very numbers that generated the
  // training data, and sped up in-context recall's onset 2-4x against PyTorch (docs/parity.md).
  static Rng parameter_rng(uint64_t seed) { return Rng(seed).split(kParameterStream); }
  static constexpr uint64_t kParameterStream = 0x706172616d73ull;  // "params"; epochs' shuffles use split(epoch)
  bool finalized() const { return block_.defined(); }

  DType dtype() const { return dtype_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry& entry(int index) const { return entries_[static_cast<size_t>(index)]; }
  // Index of the parameter called `name`, or -1.
  int find(const std::string& name) const;

  int64_t num_params() const;       // elements actually used (without padding)
  int64_t padded_size() const { return padded_; }
  // The four sections as flat tensors of padded_size() elements (padding is zero and stays zero).
  Tensor values() const { return section(0); }
  Tensor grads() const { return section(1); }
  Tensor moment1() const { return section(2); }
  Tensor moment2() const { return section(3); }

  void zero_grad() const { grads().fill_zero(); }

 private:
  Tensor section(int k) const;

  DType dtype_;
  std::vector<Entry> entries_;
  int64_t padded_ = 0;
  Tensor block_;
};

// Builds hierarchical names: ParamScope(store).sub("layers").sub(2).param("weight", ...) declares
// "layers.2.weight".
class ParamScope {
 public:
  explicit ParamScope(ParamStore& store, std::string prefix = "") : store_(&store), prefix_(std::move(prefix)) {}
  ParamScope sub(const std::string& name) const { return ParamScope(*store_, join(name)); }
  ParamScope sub(int index) const { return sub(std::to_string(index)); }
  Param param(const std::string& name, const Shape& shape, const Init& init) const {
    return store_->declare(join(name), shape, init);
  }
  const std::string& prefix() const { return prefix_; }
  ParamStore& store() const { return *store_; }

 private:
  std::string join(const std::string& name) const { return prefix_.empty() ? name : prefix_ + "." + name; }
  ParamStore* store_;
  std::string prefix_;
};

}  // namespace mad
