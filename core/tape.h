// Reverse-mode automatic differentiation on a tape.
//
// Ops append nodes to the tape in execution order; backward() walks the nodes once in reverse (no
// recursion) and calls each op's backward rule from the op table. The gradient contract:
//   * backward rules always ADD into input gradients (+=), so a value used twice, a shared weight or a
//     parameter used by several layers receives the sum; clearing is explicit (ParamStore::zero_grad,
//     Tape::reset).
//   * gradients of intermediate values are zero-filled arena tensors created the first time something
//     flows into them; a leaf may instead accumulate into memory given by the caller (the parameter block).
//   * broadcasting ops reduce their output gradient back to each input's shape in one central function,
//     accumulate_unbroadcast (core/broadcast.h).
// Every tensor a step creates comes from the tape's arena and lives until reset(); a steady-state step
// therefore performs no heap allocation (tests/unit/test_no_alloc.cpp). With set_free_in_backward(true)
// (the trainer's setting) backward() hands memory back to the arena as soon as nothing can read it any
// more, which lowers the step's peak memory; see set_free_in_backward.
#pragma once

#include <chrono>
#include <initializer_list>
#include <span>
#include <vector>

#include "core/arena.h"
#include "core/op_list.h"
#include "core/op_profile.h"
#include "core/tensor.h"

namespace mad {

class Tape;
struct Node;

// The backward rule of one op: reads the node's inputs, saved tensors and output gradient and adds into
// the gradients of the inputs that need one.
using BackwardFn = void (*)(Tape& tape, const Node& node);
BackwardFn op_backward(OpId op);

// Scalar attributes an op needs in its backward (axes, sizes, epsilons, ...).
struct OpAttrs {
  int64_t i[6] = {0, 0, 0, 0, 0, 0};
  double f[2] = {0, 0};
};

struct Node {
  OpId op;
  BackwardFn backward;
  int32_t output;
  int32_t first_input;  // index into the tape's flat input list
  int32_t num_inputs;
  Tensor saved[2];      // tensors kept for backward beyond inputs and output (arena memory)
  OpAttrs attrs;
  bool owns_saved[2] = {false, false};  // saved[k] is arena memory this node alone allocated
};

// A handle to a value on a tape: cheap to copy, valid until the tape's reset().
class Var {
 public:
  Var() = default;
  Var(Tape* tape, int32_t id) : tape_(tape), id_(id) {}

  bool defined() const { return tape_ != nullptr; }
  Tape& tape() const { return *tape_; }
  int32_t id() const { return id_; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  DType dtype() const { return value().dtype(); }
  int64_t dim(int axis) const { return shape()[axis]; }
  bool requires_grad() const;
  // The accumulated gradient (undefined if nothing flowed into this value).
  const Tensor& grad() const;

 private:
  Tape* tape_ = nullptr;
  int32_t id_ = -1;
};

class Tape {
 public:
  explicit Tape(size_t arena_bytes = size_t(1) << 20);
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  Arena& arena() { return arena_; }
  // Uninitialised / zero-filled tensors valid until reset().
  Tensor alloc(const Shape& shape, DType dtype);
  Tensor zeros(const Shape& shape, DType dtype);

  // A leaf value. With requires_grad, gradients accumulate into `grad` when given (it must match the
  // shape and dtype), otherwise into an arena tensor created on first use.
  Var leaf(const Tensor& data, bool requires_grad = false, const Tensor& grad = {});
  Var constant(const Tensor& data) { return leaf(data, false); }

  // Records the result `out` of op `op`. A node is kept only when gradients are enabled and some input
  // requires a gradient; the result then requires one too.
  Var record(OpId op, std::span<const Var> inputs, const Tensor& out, const OpAttrs& attrs = {},
             const Tensor& saved0 = {}, const Tensor& saved1 = {});
  Var record(OpId op, std::initializer_list<Var> inputs, const Tensor& out, const OpAttrs& attrs = {},
             const Tensor& saved0 = {}, const Tensor& saved1 = {}) {
    return record(op, std::span<const Var>(inputs.begin(), inputs.size()), out, attrs, saved0, saved1);
  }
  // Replaces the backward rule of the node that produced `v` (tests use it to plant a wrong rule).
  void set_backward(Var v, BackwardFn fn);

  // Runs backward from `root`, seeding its gradient with `seed` (default: ones; root must then be a
  // single element). Nodes run in reverse order of recording.
  void backward(Var root, const Tensor& seed = {});

  // When on, backward() returns memory to the arena once nothing can read it: after a node's backward
  // rule has run, its result's value, its result's gradient and its saved tensors (whatever of them the
  // op allocated itself, not views of other values), and the scratch the rule allocated. Every reader of
  // a result is a later node, whose backward has already run, so this changes no computed value; but
  // after backward() only leaf values and leaf gradients may be read (the trainer scores a batch before
  // its backward). Off by default: tests read intermediate values after backward.
  void set_free_in_backward(bool on) { free_in_backward_ = on; }

  // Whether the op about to consume `v` may write its result into v's memory. True when v is an op's
  // result in memory of its own (not a view, not itself written in place), that op's backward never
  // reads its result (linear, matmul, add, sub, mul, embedding) or no node was recorded for it, and no op
  // has consumed v yet. The caller must also know that nothing will consume v after it; the backbone's
  // residual add is the typical case.
  bool can_overwrite(Var v) const;

  // Forgets every value and node and releases the arena for the next step.
  void reset();

  bool grad_enabled() const { return grad_enabled_; }
  void set_grad_enabled(bool on) { grad_enabled_ = on; }

  // Charges op times to `profile` (null: off, the default); see core/op_profile.h. The profile must
  // outlive its use by this tape.
  void set_profile(OpProfile* profile) {
    profile_ = profile;
    mark();
  }

  // --- for backward rules -------------------------------------------------------------------------
  const Tensor& value(int32_t id) const { return values_[static_cast<size_t>(id)].data; }
  bool needs_grad(int32_t id) const { return values_[static_cast<size_t>(id)].requires_grad; }
  // The gradient of value `id`, created zero-filled on first use; backward rules add into it.
  const Tensor& grad_acc(int32_t id);
  const Tensor& grad(int32_t id) const { return values_[static_cast<size_t>(id)].grad; }
  // Adds `g` into the gradient of value `id`. With `may_adopt`, a gradient that does not exist yet becomes
  // `g` itself: no zero-fill, no copy. Only a node's own output gradient (or a view of it) may be adopted,
  // and by at most one input of that node: the node's backward runs once and nothing reads that gradient
  // afterwards, so the buffer passes to the input. Gradients of intermediate values may therefore share
  // memory with gradients of later values; read leaf gradients only.
  void add_grad(int32_t id, const Tensor& g, bool may_adopt);
  int32_t input(const Node& n, int k) const { return inputs_[static_cast<size_t>(n.first_input + k)]; }

  std::span<const Node> nodes() const { return nodes_; }
  size_t num_values() const { return values_.size(); }

 private:
  // A range of arena memory a value, gradient or saved tensor owns (freed with it in free_in_backward).
  struct Allocation {
    void* begin = nullptr;
    size_t bytes = 0;
  };
  struct Value {
    Tensor data;
    Tensor grad;
    bool requires_grad = false;
    bool overwritable = false;  // see can_overwrite
    int32_t uses = 0;           // ops recorded with this value as an input
    Allocation data_memory, grad_memory;
  };
  // Removes and returns the allocation made since the last record that `t` occupies exactly, if any.
  Allocation claim(const Tensor& t);
  void release(Allocation& a);
  void run_backward_rule(const Node& n);

  using Clock = std::chrono::steady_clock;
  // Starts the interval the next recorded op is charged for (profiling only).
  void mark() {
    if (profile_) mark_ = Clock::now();
  }

  Arena arena_;
  OpProfile* profile_ = nullptr;
  Clock::time_point mark_{};
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<int32_t> inputs_;
  std::vector<Allocation> unclaimed_;  // allocated since the last record (forward) or rule start (backward)
  const Node* running_ = nullptr;      // the node whose backward rule is running
  bool grad_enabled_ = true;
  bool free_in_backward_ = false;
  bool backward_ran_ = false;
};

// Disables recording for its lifetime (evaluation): ops still compute, no node is kept.
class NoGradGuard {
 public:
  explicit NoGradGuard(Tape& tape) : tape_(tape), previous_(tape.grad_enabled()) { tape.set_grad_enabled(false); }
  ~NoGradGuard() { tape_.set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  Tape& tape_;
  bool previous_;
};

inline const Tensor& Var::value() const { return tape_->value(id_); }
inline bool Var::requires_grad() const { return tape_->needs_grad(id_); }
inline const Tensor& Var::grad() const { return tape_->grad(id_); }

}  // namespace mad
