// Matrix product, plain and batched, with its backward; the fused Linear product `linear`.
#include <algorithm>

#include "kernels/gemm.h"

#include "core/ops_common.h"

namespace mad {
namespace {

// One product C (+)= op(A) op(B) (+ bias, kernels/gemm.h) split across threads by blocks of rows of C (or
// of columns when C has fewer rows than columns). Every element is computed by exactly one thread.
template <typename T>
void gemm_parallel(int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, bool ta, const T* B, int64_t ldb,
                   bool tb, T* C, int64_t ldc, bool accumulate, const T* bias = nullptr) {
  constexpr int64_t kMinRows = 32;
  if (M >= N) {
    parallel_for(M, kMinRows, [&](int64_t m0, int64_t m1) {
      const T* a = ta ? A + m0 : A + m0 * lda;
      kernels::gemm<T>(m1 - m0, N, K, a, lda, ta, B, ldb, tb, C + m0 * ldc, ldc, accumulate, bias);
    });
  } else {
    parallel_for(N, kMinRows, [&](int64_t n0, int64_t n1) {
      const T* b = tb ? B + n0 * ldb : B + n0;
      kernels::gemm<T>(M, n1 - n0, K, A, lda, ta, b, ldb, tb, C + n0, ldc, accumulate, bias ? bias + n0 : nullptr);
    });
  }
}

// The geometry of a matmul node, derived from its operands.
struct MatmulDims {
  int64_t batch, M, N, K;
  bool shared_b;  // b is one matrix used by every batch entry
};

MatmulDims matmul_dims(const Shape& a, const Shape& b, bool ta, bool tb) {
  MAD_CHECK(a.rank() >= 2 && b.rank() >= 2,
            "matmul: both operands need at least 2 dimensions, got {} and {}", a.str(), b.str());
  MatmulDims d{};
  d.M = ta ? a[-1] : a[-2];
  d.K = ta ? a[-2] : a[-1];
  const int64_t kb = tb ? b[-1] : b[-2];
  d.N = tb ? b[-2] : b[-1];
  MAD_CHECK(d.K == kb,
            "matmul: inner dimensions differ: a {}{} has K = {} but b {}{} has K = {}; check which operand "
            "needs a transpose", a.str(), ta ? " (transposed)" : "", d.K, b.str(), tb ? " (transposed)" : "", kb);
  d.batch = a.prod(0, a.rank() - 2);
  d.shared_b = b.rank() == 2;
  if (!d.shared_b) {
    bool same = b.rank() == a.rank();
    for (int i = 0; same && i < a.rank() - 2; ++i) same = a[i] == b[i];
    MAD_CHECK(same, "matmul: batched operands need the same leading dimensions, got a {} and b {}", a.str(), b.str());
  }
  return d;
}

}  // namespace

Var matmul(Var a, Var b, bool trans_a, bool trans_b) {
  Tape& tape = detail::tape_of(a, "matmul");
  detail::tape_of(b, "matmul");
  detail::check_same_dtype(a, b, "matmul");
  const MatmulDims d = matmul_dims(a.shape(), b.shape(), trans_a, trans_b);
  Shape out_shape = a.shape();
  out_shape[-2] = d.M;
  out_shape[-1] = d.N;
  Tensor out = tape.alloc(out_shape, a.dtype());
  dispatch_float(a.dtype(), "matmul", [&]<typename T>() {
    const T* pa = a.value().template data<T>();
    const T* pb = b.value().template data<T>();
    T* pc = out.data<T>();
    const int64_t lda = a.dim(-1), ldb = b.dim(-1);
    if (d.shared_b && !trans_a) {
      // All batch entries stacked: one [batch*M, K] x [K, N] product.
      gemm_parallel<T>(d.batch * d.M, d.N, d.K, pa, lda, false, pb, ldb, trans_b, pc, d.N, false);
      return;
    }
    const int64_t sa = d.M * d.K, sb = d.shared_b ? 0 : d.K * d.N, sc = d.M * d.N;
    parallel_for(d.batch, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i)
        kernels::gemm<T>(d.M, d.N, d.K, pa + i * sa, lda, trans_a, pb + i * sb, ldb, trans_b, pc + i * sc, d.N, false);
    });
  });
  OpAttrs attrs;
  attrs.i[0] = trans_a;
  attrs.i[1] = trans_b;
  return tape.record(OpId::matmul, {a, b}, out, attrs);
}

// C = op(A) op(B):  d op(A) = dC op(B)^T,  d op(B) = op(A)^T dC.
void backward_matmul(Tape& tape, const Node& n) {
  const int32_t ia = tape.input(n, 0), ib = tape.input(n, 1);
  const Tensor& a = tape.value(ia);
  const Tensor& b = tape.value(ib);
  const Tensor& g = tape.grad(n.output);
  const bool ta = n.attrs.i[0], tb = n.attrs.i[1];
  const MatmulDims d = matmul_dims(a.shape(), b.shape(), ta, tb);
  dispatch_float(g.dtype(), "matmul", [&]<typename T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const T* pg = g.data<T>();
    const int64_t lda = a.dim(-1), ldb = b.dim(-1);
    if (tape.needs_grad(ia)) {
      T* ga = tape.grad_acc(ia).template data<T>();
      // dA = dC op(B)^T (A not transposed) or op(B) dC^T (A transposed).
      if (d.shared_b && !ta) {
        gemm_parallel<T>(d.batch * d.M, d.K, d.N, pg, d.N, false, pb, ldb, !tb, ga, lda, true);
      } else {
        const int64_t sa = d.M * d.K, sb = d.shared_b ? 0 : d.K * d.N, sc = d.M * d.N;
        parallel_for(d.batch, 1, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            if (!ta)
              kernels::gemm<T>(d.M, d.K, d.N, pg + i * sc, d.N, false, pb + i * sb, ldb, !tb, ga + i * sa, lda, true);
            else
              kernels::gemm<T>(d.K, d.M, d.N, pb + i * sb, ldb, tb, pg + i * sc, d.N, true, ga + i * sa, lda, true);
          }
        });
      }
    }
    if (tape.needs_grad(ib)) {
      T* gb = tape.grad_acc(ib).template data<T>();
      // dB = op(A)^T dC (B not transposed) or dC^T op(A) (B transposed); summed over the batch when shared.
      if (d.shared_b && !ta) {
        const int64_t rows = d.batch * d.M;
        if (!tb)
          gemm_parallel<T>(d.K, d.N, rows, pa, lda, true, pg, d.N, false, gb, ldb, true);
        else
          gemm_parallel<T>(d.N, d.K, rows, pg, d.N, true, pa, lda, false, gb, ldb, true);
      } else {
        const int64_t sa = d.M * d.K, sb = d.K * d.N, sc = d.M * d.N;
        auto one = [&](int64_t i, T* dst) {
          if (!tb)
            kernels::gemm<T>(d.K, d.N, d.M, pa + i * sa, lda, !ta, pg + i * sc, d.N, false, dst, ldb, true);
          else
            kernels::gemm<T>(d.N, d.K, d.M, pg + i * sc, d.N, true, pa + i * sa, lda, ta, dst, ldb, true);
        };
        if (d.shared_b) {
          for (int64_t i = 0; i < d.batch; ++i) one(i, gb);  // serial: every entry adds into the same matrix
        } else {
          parallel_for(d.batch, 1, [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) one(i, gb + i * sb);
          });
        }
      }
    }
  });
}

}  // namespace mad

// ---- linear: x [..., in], weight [out, in], bias [out] (optional) -> x weight^T + bias [..., out] -------
// The matmul + bias of a Linear layer in one op: the GEMM adds the bias as it stores each tile of the
// product, instead of a pass that fills the result with the bias first (10-20% of a forward product at
// the MAD shapes) or one that adds it afterwards. Backward: the input gradient is written by the GEMM
// directly when nothing else has contributed to it yet (no zero-fill), and the bias gradient is a column
// sum split by columns across threads (the same bits on any number of threads).
namespace mad {

Var linear(Var x, Var weight, Var bias) {
  Tape& tape = detail::tape_of(x, "linear");
  detail::tape_of(weight, "linear");
  detail::check_same_dtype(x, weight, "linear");
  MAD_CHECK(x.shape().rank() >= 1 && weight.shape().rank() == 2 && x.dim(-1) == weight.dim(1),
            "linear: needs x [..., in] and weight [out, in], got x {} and weight {}", x.shape().str(),
            weight.shape().str());
  const int64_t K = weight.dim(1), N = weight.dim(0), rows = x.value().numel() / std::max<int64_t>(1, K);
  if (bias.defined()) {
    detail::check_same_dtype(x, bias, "linear");
    MAD_CHECK(bias.shape() == Shape{N}, "linear: bias must have shape [{}] for weight {}, got {}", N,
              weight.shape().str(), bias.shape().str());
  }
  Shape out_shape = x.shape();
  out_shape[-1] = N;
  Tensor out = tape.alloc(out_shape, x.dtype());
  dispatch_float(x.dtype(), "linear", [&]<typename T>() {
    const T* px = x.value().template data<T>();
    const T* pw = weight.value().template data<T>();
    const T* pb = bias.defined() ? bias.value().template data<T>() : nullptr;
    gemm_parallel<T>(rows, N, K, px, K, false, pw, K, true, out.data<T>(), N, false, pb);
  });
  return tape.record(OpId::linear, {x, weight, bias}, out);
}

void backward_linear(Tape& tape, const Node& n) {
  const int32_t ix = tape.input(n, 0), iw = tape.input(n, 1), ib = tape.input(n, 2);
  const Tensor& x = tape.value(ix);
  const Tensor& w = tape.value(iw);
  const Tensor& g = tape.grad(n.output);
  const int64_t K = w.dim(1), N = w.dim(0), rows = g.numel() / std::max<int64_t>(1, N);
  dispatch_float(g.dtype(), "linear", [&]<typename T>() {
    const T* pg = g.data<T>();
    const T* pw = w.data<T>();
    const T* px = x.data<T>();
    if (tape.needs_grad(ix)) {
      // dx = dy W. A gradient nothing has flowed into yet is written, not zero-filled and added to.
      if (tape.grad(ix).defined()) {
        gemm_parallel<T>(rows, K, N, pg, N, false, pw, K, false, tape.grad(ix).template data<T>(), K, true);
      } else {
        Tensor gx = tape.alloc(x.shape(), x.dtype());
        gemm_parallel<T>(rows, K, N, pg, N, false, pw, K, false, gx.data<T>(), K, false);
        tape.add_grad(ix, gx, true);
      }
    }
    if (tape.needs_grad(iw))  // dW = dy^T x
      gemm_parallel<T>(N, K, rows, pg, N, true, px, K, false, tape.grad_acc(iw).template data<T>(), K, true);
    if (ib >= 0 && tape.needs_grad(ib)) {
      // db = column sums of dy, each column summed in row order by one thread.
      T* pb = tape.grad_acc(ib).template data<T>();
      parallel_for(N, std::max<int64_t>(8, detail::kParallelGrain / std::max<int64_t>(1, rows)),
                   [&](int64_t j0, int64_t j1) {
                     for (int64_t r = 0; r < rows; ++r)
                       for (int64_t j = j0; j < j1; ++j) pb[j] += pg[r * N + j];
                   });
    }
  });
}

}  // namespace mad
