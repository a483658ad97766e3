// kernels/attention.h: float32 through the active instruction set's kernels (kernels/isa/attention.cpp),
// float64 (gradient checks) here, with Eigen's products; both run kernels/attention_impl.h.
#include "kernels/attention.h"

#include <string>
#include <type_traits>

#include "kernels/attention_impl.h"
#include "kernels/check.h"
#include "kernels/gemm.h"
#include "kernels/isa/kernel_table.h"

namespace mad::kernels {
namespace {

struct EigenProducts {
  static void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, bool ta, const double* B,
                   int64_t ldb, bool tb, double* C, int64_t ldc, bool accumulate) {
    gemm_eigen<double>(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate);
  }
};

std::string dims_text(const AttentionDims& d) {
  return "L=" + std::to_string(d.L) + ", Dh=" + std::to_string(d.Dh) + ", ld=" + std::to_string(d.ld) +
         ", ld_out=" + std::to_string(d.ld_out) + ", causal=" + std::to_string(d.causal) +
         ", window=" + std::to_string(d.window);
}

void check_dims(const AttentionDims& d, const void* scratch, const char* fn) {
  MAD_KERNEL_CHECK(d.L >= 0 && d.Dh > 0 && d.ld >= d.Dh && d.ld_out >= d.Dh,
                   std::string(fn) + ": needs L >= 0, Dh > 0 and row strides ld, ld_out >= Dh, got " + dims_text(d));
  MAD_KERNEL_CHECK(
      d.window >= -1 && (d.causal || d.window == -1),
      std::string(fn) + ": window must be -1 or, with causal attention, >= 0, got " + dims_text(d));
  MAD_KERNEL_CHECK(scratch != nullptr || d.L == 0, std::string(fn) + ": scratch is null (" + dims_text(d) +
                                                       "); pass " + fn + "_scratch_size(L, Dh) elements");
}

using attention_impl::aligned_count;
using attention_impl::Bk;
using attention_impl::Bq;

}  // namespace

// The tiles, then room for q, k, v (and dout) rounded to bf16 in the bf16 compute mode.
std::size_t attention_forward_scratch_size(int64_t L, int64_t Dh) {
  return static_cast<std::size_t>(attention_impl::forward_tile_scratch(Dh) + 3 * aligned_count(L * Dh));
}

std::size_t attention_backward_scratch_size(int64_t L, int64_t Dh) {
  return static_cast<std::size_t>(attention_impl::backward_tile_scratch(L) + 4 * aligned_count(L * Dh));
}

template <typename T>
void attention_forward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k, const T* v,
                       T* out, T* lse, std::type_identity_t<T>* scratch) {
  check_dims(d, scratch, "attention_forward");
  if constexpr (std::is_same_v<T, float>)
    active_kernels().attention_forward(d, scale, q, k, v, out, lse, scratch);
  else
    attention_impl::forward<T, EigenProducts>(d, scale, {q, k, v, nullptr, d.ld, d.ld_out}, false, out, lse, scratch);
}

template <typename T>
void attention_backward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k, const T* v,
                        const T* out, const T* lse, const T* dout, std::type_identity_t<T>* dq,
                        std::type_identity_t<T>* dk, std::type_identity_t<T>* dv, std::type_identity_t<T>* scratch) {
  check_dims(d, scratch, "attention_backward");
  if constexpr (std::is_same_v<T, float>)
    active_kernels().attention_backward(d, scale, q, k, v, out, lse, dout, dq, dk, dv, scratch);
  else
    attention_impl::backward<T, EigenProducts>(d, scale, {q, k, v, dout, d.ld, d.ld_out}, false, out, lse, dout, dq, dk,
                                               dv, scratch);
}

template void attention_forward<float>(const AttentionDims&, float, const float*, const float*, const float*,
                                       float*, float*, float*);
template void attention_forward<double>(const AttentionDims&, double, const double*, const double*,
                                        const double*, double*, double*, double*);
template void attention_backward<float>(const AttentionDims&, float, const float*, const float*, const float*,
                                        const float*, const float*, const float*, float*, float*, float*,
                                        float*);
template void attention_backward<double>(const AttentionDims&, double, const double*, const double*,
                                         const double*, const double*, const double*, const double*, double*,
                                         double*, double*, double*);

}  // namespace mad::kernels
