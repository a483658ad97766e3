#include "core/params.h"

#include "core/budget.h"

namespace mad {

namespace {
constexpr int64_t kAlignElements = 16;
}

const Tensor& Param::value() const { return store_->entry(index_).value; }
const Tensor& Param::grad() const { return store_->entry(index_).grad; }
Var Param::on(Tape& tape) const {
  MAD_CHECK(store_ && store_->finalized(), "Param::on: the parameter store was not finalized");
  const auto& e = store_->entry(index_);
  return tape.leaf(e.value, true, e.grad);
}

Param ParamStore::declare(const std::string& name, const Shape& shape, const Init& init) {
  MAD_CHECK(!finalized(), "ParamStore: cannot declare '{}' after finalize()", name);
  MAD_CHECK(find(name) < 0, "ParamStore: parameter '{}' is declared twice; give each parameter a unique name", name);
  // Checked: the block holds four sections of padded_ elements, and a spec's sizes are user input.
  const int64_t padded = checked_add(shape.numel(), kAlignElements - 1, name) / kAlignElements * kAlignElements;
  const int64_t total = checked_add(padded_, padded, "the parameter count");
  checked_mul(checked_mul(total, 4, "the parameter block"), static_cast<int64_t>(dtype_size(dtype_)), "the parameter block bytes");
  entries_.push_back({name, shape, init, padded_, {}, {}});
  padded_ = total;
  return Param(this, static_cast<int>(entries_.size() - 1));
}

void ParamStore::finalize(uint64_t seed) {
  MAD_CHECK(!finalized(), "ParamStore: finalize() called twice");
  if (4 * padded_ * static_cast<int64_t>(dtype_size(dtype_)) > memory_budget()) {
    // Name the largest parameter: it is usually the setting to reduce.
    const Entry* largest = &entries_.front();
    for (const Entry& e : entries_)
      if (e.shape.numel() > largest->shape.numel()) largest = &e;
    check_memory(4 * padded_ * static_cast<int64_t>(dtype_size(dtype_)),
                 fmt::format("the model's {} parameters with their gradients and AdamW moments", num_params()),
                 fmt::format("the largest is {} {}: reduce the size setting behind it (dim, d_state, expand, heads, ...)",
                             largest->name, largest->shape.str()));
  }
  block_ = Tensor::zeros(Shape{4 * padded_}, dtype_);
  Rng rng = parameter_rng(seed);
  for (auto& e : entries_) {
    const size_t bytes = dtype_size(dtype_);
    auto* base = static_cast<std::byte*>(block_.raw());
    e.value = Tensor::borrow(base + static_cast<size_t>(e.offset) * bytes, e.shape, dtype_);
    e.grad = Tensor::borrow(base + static_cast<size_t>(padded_ + e.offset) * bytes, e.shape, dtype_);
    initialize(e.value, e.init, rng);
  }
}

int ParamStore::find(const std::string& name) const {
  for (size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return static_cast<int>(i);
  return -1;
}

int64_t ParamStore::num_params() const {
  int64_t n = 0;
  for (const auto& e : entries_) n += e.shape.numel();
  return n;
}

Tensor ParamStore::section(int k) const {
  MAD_CHECK(finalized(), "ParamStore: the block is allocated by finalize()");
  return Tensor::borrow(static_cast<std::byte*>(block_.raw()) + static_cast<size_t>(k * padded_) * dtype_size(dtype_),
                        Shape{padded_}, dtype_);
}

}  // namespace mad
