// Sequence ops: causal (optionally windowed) masking, cumulative sums, depthwise causal convolution and
// the causal long convolution (direct or FFT kernels from kernels/).
#include <map>
#include <memory>
#include <mutex>

#include "core/ops_common.h"
#include "kernels/depthwise_conv.h"
#include "kernels/long_conv.h"

namespace mad {

// ---- causal mask: scores [..., Tq, Tk] --------------------------------------------------------------
namespace {
// Query i sits at absolute position i + (Tk - Tq); it sees keys j in [pos - window, pos] (all j <= pos
// when window < 0).
inline bool visible(int64_t i, int64_t j, int64_t shift, int64_t window) {
  const int64_t pos = i + shift;
  return j <= pos && (window < 0 || j >= pos - window);
}
}  // namespace

Var causal_mask(Var scores, double fill, int64_t window) {
  Tape& tape = detail::tape_of(scores, "causal_mask");
  const Shape& s = scores.shape();
  MAD_CHECK(s.rank() >= 2, "causal_mask: needs scores [..., Tq, Tk], got {}", s.str());
  const int64_t Tq = s[-2], Tk = s[-1], batch = s.numel() / std::max<int64_t>(Tq * Tk, 1);
  MAD_CHECK(Tq <= Tk, "causal_mask: more queries ({}) than keys ({}) in {}", Tq, Tk, s.str());
  Tensor out = tape.alloc(s, scores.dtype());
  dispatch_float(scores.dtype(), "causal_mask", [&]<typename T>() {
    const T* x = scores.value().template data<T>();
    T* y = out.data<T>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          const int64_t k = (b * Tq + i) * Tk + j;
          y[k] = visible(i, j, Tk - Tq, window) ? x[k] : static_cast<T>(fill);
        }
  });
  OpAttrs attrs;
  attrs.i[0] = window;
  return tape.record(OpId::causal_mask, {scores}, out, attrs);
}

void backward_causal_mask(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& gx = tape.grad_acc(ix);
  const int64_t Tq = gx.dim(-2), Tk = gx.dim(-1), batch = gx.numel() / std::max<int64_t>(Tq * Tk, 1);
  dispatch_float(gx.dtype(), "causal_mask", [&]<typename T>() {
    const T* g = tape.grad(n.output).template data<T>();
    T* p = gx.data<T>();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          const int64_t k = (b * Tq + i) * Tk + j;
          if (visible(i, j, Tk - Tq, n.attrs.i[0])) p[k] += g[k];
        }
  });
}

// ---- cumulative sum along an axis; x viewed as [outer, n, inner] ---------------------------------
namespace {
// dst (+)= cumsum of src along the axis, forward (index order) or reverse.
template <typename T>
void cumsum_into(const T* src, T* dst, int64_t outer, int64_t n, int64_t inner, bool reverse, bool add) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      T acc = 0;
      for (int64_t step = 0; step < n; ++step) {
        const int64_t j = reverse ? n - 1 - step : step;
        const int64_t k = (o * n + j) * inner + i;
        acc += src[k];
        dst[k] = add ? dst[k] + acc : acc;
      }
    }
}
}  // namespace

Var cumsum(Var x, int axis_in, bool reverse) {
  Tape& tape = detail::tape_of(x, "cumsum");
  const Shape& s = x.shape();
  const int axis = s.norm_axis(axis_in);
  Tensor out = tape.alloc(s, x.dtype());
  dispatch_float(x.dtype(), "cumsum", [&]<typename T>() {
    cumsum_into<T>(x.value().template data<T>(), out.data<T>(), s.prod(0, axis), s[axis], s.prod(axis + 1, s.rank()),
                   reverse, false);
  });
  OpAttrs attrs;
  attrs.i[0] = axis;
  attrs.i[1] = reverse;
  return tape.record(OpId::cumsum, {x}, out, attrs);
}

// The gradient of a cumulative sum is the cumulative sum in the other direction.
void backward_cumsum(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0);
  const Tensor& gx = tape.grad_acc(ix);
  const Shape& s = gx.shape();
  const int axis = static_cast<int>(n.attrs.i[0]);
  dispatch_float(gx.dtype(), "cumsum", [&]<typename T>() {
    cumsum_into<T>(tape.grad(n.output).template data<T>(), gx.data<T>(), s.prod(0, axis), s[axis],
                   s.prod(axis + 1, s.rank()), !n.attrs.i[1], true);
  });
}

// ---- depthwise causal conv: x [B, T, C], weight [C, K], bias [C] or undefined ----------------------
Var depthwise_conv1d(Var x, Var weight, Var bias) {
  Tape& tape = detail::tape_of(x, "depthwise_conv1d");
  detail::tape_of(weight, "depthwise_conv1d");
  detail::check_same_dtype(x, weight, "depthwise_conv1d");
  MAD_CHECK(x.shape().rank() == 3 && weight.shape().rank() == 2 && weight.dim(0) == x.dim(2),
            "depthwise_conv1d: needs x [B, T, C] and weight [C, K] with the same C, got x {} and weight {}",
            x.shape().str(), weight.shape().str());
  const auto B = static_cast<size_t>(x.dim(0)), T = static_cast<size_t>(x.dim(1)), C = static_cast<size_t>(x.dim(2)),
             K = static_cast<size_t>(weight.dim(1));
  if (bias.defined())
    MAD_CHECK(bias.shape() == Shape{x.dim(2)}, "depthwise_conv1d: bias must be [{}], got {}", C, bias.shape().str());
  Tensor out = tape.alloc(x.shape(), x.dtype());
  Tensor scratch = tape.alloc(Shape{static_cast<int64_t>(kernels::depthwise_conv_forward_scratch_size(C, K))}, x.dtype());
  dispatch_float(x.dtype(), "depthwise_conv1d", [&]<typename T_>() {
    kernels::depthwise_conv_forward<T_>(x.value().template data<T_>(), weight.value().template data<T_>(),
                                        bias.defined() ? bias.value().template data<T_>() : nullptr, out.data<T_>(), B,
                                        T, C, K, scratch.data<T_>());
  });
  return tape.record(OpId::depthwise_conv1d, {x, weight, bias}, out);
}

void backward_depthwise_conv1d(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0), iw = tape.input(n, 1), ib = tape.input(n, 2);
  const Tensor& x = tape.value(ix);
  const Tensor& w = tape.value(iw);
  const auto B = static_cast<size_t>(x.dim(0)), T = static_cast<size_t>(x.dim(1)), C = static_cast<size_t>(x.dim(2)),
             K = static_cast<size_t>(w.dim(1));
  Tensor scratch = tape.alloc(Shape{static_cast<int64_t>(kernels::depthwise_conv_backward_scratch_size(C, K))}, x.dtype());
  dispatch_float(x.dtype(), "depthwise_conv1d", [&]<typename T_>() {
    auto grad_ptr = [&](int32_t id) { return id >= 0 && tape.needs_grad(id) ? tape.grad_acc(id).template data<T_>() : nullptr; };
    kernels::depthwise_conv_backward<T_>(x.data<T_>(), w.data<T_>(), tape.grad(n.output).template data<T_>(),
                                         grad_ptr(ix), grad_ptr(iw), grad_ptr(ib), B, T, C, K, scratch.data<T_>());
  });
}

// ---- causal long convolution: x [B, T, C], h [T, C] -------------------------------------------------
namespace {
// FFT plans are built once per (length, kernel) and shared; building allocates, using them does not.
template <typename T>
const kernels::LongConvPlan<T>& long_conv_plan(size_t length, ConvKernel kernel) {
  static std::mutex mutex;
  static std::map<std::pair<size_t, int>, std::unique_ptr<kernels::LongConvPlan<T>>> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto& plan = plans[{length, static_cast<int>(kernel)}];
  if (!plan) {
    plan = kernel == ConvKernel::automatic
               ? std::make_unique<kernels::LongConvPlan<T>>(length)
               : std::make_unique<kernels::LongConvPlan<T>>(
                     length, kernel == ConvKernel::fft ? kernels::LongConvMethod::fft : kernels::LongConvMethod::direct);
  }
  return *plan;
}
}  // namespace

Var long_conv(Var x, Var h, ConvKernel kernel) {
  Tape& tape = detail::tape_of(x, "long_conv");
  detail::tape_of(h, "long_conv");
  detail::check_same_dtype(x, h, "long_conv");
  MAD_CHECK(x.shape().rank() == 3 && h.shape().rank() == 2 && h.dim(0) == x.dim(1) && h.dim(1) == x.dim(2),
            "long_conv: needs x [B, T, C] and a filter h [T, C], got x {} and h {}", x.shape().str(), h.shape().str());
  const auto B = static_cast<size_t>(x.dim(0)), T = static_cast<size_t>(x.dim(1)), C = static_cast<size_t>(x.dim(2));
  Tensor out = tape.alloc(x.shape(), x.dtype());
  dispatch_float(x.dtype(), "long_conv", [&]<typename T_>() {
    const auto& plan = long_conv_plan<T_>(T, kernel);
    Tensor scratch = tape.alloc(Shape{static_cast<int64_t>(plan.forward_scratch_size(C))}, x.dtype());
    kernels::long_conv_forward<T_>(plan, x.value().template data<T_>(), h.value().template data<T_>(), out.data<T_>(),
                                   B, T, C, scratch.data<T_>());
  });
  OpAttrs attrs;
  attrs.i[0] = static_cast<int64_t>(kernel);
  return tape.record(OpId::long_conv, {x, h}, out, attrs);
}

void backward_long_conv(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0), ih = tape.input(n, 1);
  const Tensor& x = tape.value(ix);
  const auto B = static_cast<size_t>(x.dim(0)), T = static_cast<size_t>(x.dim(1)), C = static_cast<size_t>(x.dim(2));
  dispatch_float(x.dtype(), "long_conv", [&]<typename T_>() {
    const auto& plan = long_conv_plan<T_>(T, static_cast<ConvKernel>(n.attrs.i[0]));
    Tensor scratch = tape.alloc(Shape{static_cast<int64_t>(plan.backward_scratch_size(C))}, x.dtype());
    auto grad_ptr = [&](int32_t id) { return tape.needs_grad(id) ? tape.grad_acc(id).template data<T_>() : nullptr; };
    kernels::long_conv_backward<T_>(plan, x.data<T_>(), tape.value(ih).template data<T_>(),
                                    tape.grad(n.output).template data<T_>(), grad_ptr(ix), grad_ptr(ih), B, T, C,
                                    scratch.data<T_>());
  });
}

}  // namespace mad
