#include "core/tape.h"

#include "core/parallel.h"

namespace mad {

namespace {
// Ops whose backward reads neither their result nor a view of it and whose result is new memory: a
// consumer may overwrite that result in place (Tape::can_overwrite).
bool result_unread_by_backward(OpId op) {
  switch (op) {
    case OpId::linear:
    case OpId::matmul:
    case OpId::add:
    case OpId::sub:
    case OpId::mul:
    case OpId::embedding:
      return true;
    default:
      return false;
  }
}
}  // namespace

Tape::Tape(size_t arena_bytes) : arena_(arena_bytes) {
  values_.reserve(1024);
  nodes_.reserve(1024);
  inputs_.reserve(2048);
  unclaimed_.reserve(64);
}

Tensor Tape::alloc(const Shape& shape, DType dtype) {
  Tensor t = Tensor::in_arena(arena_, shape, dtype);
  if (t.nbytes() > 0) unclaimed_.push_back({t.raw(), t.nbytes()});
  return t;
}

Tape::Allocation Tape::claim(const Tensor& t) {
  if (!t.defined()) return {};
  for (auto it = unclaimed_.begin(); it != unclaimed_.end(); ++it)
    if (it->begin == t.raw() && it->bytes == t.nbytes()) {
      const Allocation a = *it;
      unclaimed_.erase(it);
      return a;
    }
  return {};
}

void Tape::release(Allocation& a) {
  if (a.begin != nullptr) arena_.release(a.begin, a.bytes);
  a = {};
}

bool Tape::can_overwrite(Var v) const {
  if (!v.defined() || &v.tape() != this) return false;
  const Value& value = values_[static_cast<size_t>(v.id())];
  return value.overwritable && value.uses == 0;
}

// Gradient buffers of whole activations are zeroed here: split across threads.
Tensor Tape::zeros(const Shape& shape, DType dtype) {
  Tensor t = alloc(shape, dtype);
  auto* bytes = static_cast<std::byte*>(t.raw());
  parallel_for(static_cast<int64_t>(t.nbytes()), int64_t(1) << 17, [&](int64_t b0, int64_t b1) {
    std::memset(bytes + b0, 0, static_cast<size_t>(b1 - b0));
  });
  return t;
}

Var Tape::leaf(const Tensor& data, bool requires_grad, const Tensor& grad) {
  MAD_CHECK(data.defined(), "Tape::leaf: the tensor is undefined");
  if (grad.defined()) {
    MAD_CHECK(grad.shape() == data.shape() && grad.dtype() == data.dtype(),
              "Tape::leaf: gradient buffer {} {} does not match value {} {}", dtype_name(grad.dtype()),
              grad.shape().str(), dtype_name(data.dtype()), data.shape().str());
  }
  Value value;
  value.data = data;
  value.grad = grad;
  value.requires_grad = requires_grad;
  values_.push_back(value);
  unclaimed_.clear();  // whatever was allocated for the leaf stays until reset()
  mark();
  return Var(this, static_cast<int32_t>(values_.size() - 1));
}

Var Tape::record(OpId op, std::span<const Var> inputs, const Tensor& out, const OpAttrs& attrs,
                 const Tensor& saved0, const Tensor& saved1) {
  if (profile_) {
    const Clock::time_point now = Clock::now();
    profile_->forward_seconds[static_cast<size_t>(op)] += std::chrono::duration<double>(now - mark_).count();
    ++profile_->forward_calls[static_cast<size_t>(op)];
  }
  bool any_grad = false;
  for (const Var& v : inputs) {
    if (!v.defined()) continue;
    ++values_[static_cast<size_t>(v.id())].uses;
    if (grad_enabled_ && needs_grad(v.id())) any_grad = true;
  }
  // The result owns the memory the op allocated for it; memory it shares with an input (a view, or a
  // result written in place) stays with that input.
  Value value;
  value.data = out;
  value.requires_grad = any_grad;
  value.data_memory = claim(out);
  value.overwritable = value.data_memory.begin != nullptr && (!any_grad || result_unread_by_backward(op));
  values_.push_back(value);
  const auto id = static_cast<int32_t>(values_.size() - 1);
  if (any_grad) {
    Node n{op, op_backward(op), id, static_cast<int32_t>(inputs_.size()), static_cast<int32_t>(inputs.size()),
           {saved0, saved1}, attrs};
    for (int k = 0; k < 2; ++k) n.owns_saved[k] = claim(n.saved[k]).begin != nullptr;
    // An absent optional input (e.g. a norm without bias) is stored as -1.
    for (const Var& v : inputs) inputs_.push_back(v.defined() ? v.id() : -1);
    nodes_.push_back(std::move(n));
  }
  unclaimed_.clear();  // scratch of the forward: stays until reset()
  mark();
  return Var(this, id);
}

void Tape::set_backward(Var v, BackwardFn fn) {
  for (auto& n : nodes_)
    if (n.output == v.id()) {
      n.backward = fn;
      return;
    }
  fail("Tape::set_backward: the value was not produced by a recorded op");
}

const Tensor& Tape::grad_acc(int32_t id) {
  Value& v = values_[static_cast<size_t>(id)];
  if (!v.grad.defined()) {
    v.grad = zeros(v.data.shape(), v.data.dtype());
    v.grad_memory = claim(v.grad);
  }
  return v.grad;
}

void Tape::add_grad(int32_t id, const Tensor& g, bool may_adopt) {
  Value& v = values_[static_cast<size_t>(id)];
  if (!v.grad.defined() && may_adopt && g.shape() == v.data.shape() && g.dtype() == v.data.dtype()) {
    v.grad = g;
    // The memory goes with the gradient: the running node's result gradient (g is it or a view of it),
    // or scratch the rule allocated.
    Allocation* from = running_ != nullptr ? &values_[static_cast<size_t>(running_->output)].grad_memory : nullptr;
    const auto* p = static_cast<const std::byte*>(g.raw());
    const auto* begin = from != nullptr ? static_cast<const std::byte*>(from->begin) : nullptr;
    if (begin != nullptr && p >= begin && p < begin + from->bytes) {
      v.grad_memory = *from;
      *from = {};
    } else {
      v.grad_memory = claim(g);
    }
    return;
  }
  const Tensor& dst = grad_acc(id);
  dispatch_float(dst.dtype(), "add_grad", [&]<typename T>() {
    T* d = dst.data<T>();
    const T* src = g.data<T>();
    parallel_for(dst.numel(), int64_t(1) << 15, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) d[i] += src[i];
    });
  });
}

void Tape::backward(Var root, const Tensor& seed) {
  MAD_CHECK(root.defined() && &root.tape() == this, "backward: the root value is not on this tape");
  MAD_CHECK(needs_grad(root.id()),
            "backward: the root does not depend on any value that requires a gradient "
            "(were the ops recorded under NoGradGuard?)");
  const Tensor& g = grad_acc(root.id());
  if (seed.defined()) {
    MAD_CHECK(seed.shape() == g.shape(), "backward: seed of shape {} for a root of shape {}", seed.shape().str(),
              g.shape().str());
    Tensor s = seed.dtype() == g.dtype() ? seed : seed.to(g.dtype());
    dispatch_float(g.dtype(), "backward", [&]<typename T>() {
      T* d = g.data<T>();
      const T* src = s.data<T>();
      for (int64_t i = 0; i < g.numel(); ++i) d[i] += src[i];
    });
  } else {
    MAD_CHECK(g.numel() == 1, "backward: the root has shape {}; give a seed gradient or reduce it to one element",
              g.shape().str());
    dispatch_float(g.dtype(), "backward", [&]<typename T>() { g.data<T>()[0] += T(1); });
  }
  if (free_in_backward_) {
    MAD_CHECK(!backward_ran_, "backward: with free_in_backward, backward can run once per Tape::reset()");
    backward_ran_ = true;
  }
  for (size_t k = nodes_.size(); k-- > 0;) {
    const Node& n = nodes_[k];
    if (!values_[static_cast<size_t>(n.output)].grad.defined()) continue;  // nothing flowed here
    run_backward_rule(n);
  }
}

void Tape::run_backward_rule(const Node& n) {
  unclaimed_.clear();
  running_ = &n;
  if (profile_) {
    const Clock::time_point start = Clock::now();
    n.backward(*this, n);
    profile_->backward_seconds[static_cast<size_t>(n.op)] +=
        std::chrono::duration<double>(Clock::now() - start).count();
    ++profile_->backward_calls[static_cast<size_t>(n.op)];
  } else {
    n.backward(*this, n);
  }
  running_ = nullptr;
  if (free_in_backward_) {
    // Every reader of this result was recorded later and has run: the result, its gradient (unless an
    // input adopted it), the saved tensors and the rule's scratch are free.
    for (Allocation& a : unclaimed_) release(a);
    Value& result = values_[static_cast<size_t>(n.output)];
    release(result.data_memory);
    release(result.grad_memory);
    for (int k = 0; k < 2; ++k)
      if (n.owns_saved[k]) arena_.release(n.saved[k].raw(), n.saved[k].nbytes());
  }
  unclaimed_.clear();
}

void Tape::reset() {
  values_.clear();
  nodes_.clear();
  inputs_.clear();
  unclaimed_.clear();
  backward_ran_ = false;
  arena_.reset();
  mark();
}

}  // namespace mad
