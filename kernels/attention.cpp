// kernels/attention.h: float32 through the active instruction set's kernels (kernels/isa/attention.cpp),
// float64 (gradient checks) here, with Eigen's products; both run kernels/attention_impl.h.
#include "kernels/attention.h"

#include <type_traits>

#include "kernels/attention_impl.h"
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

using attention_impl::aligned_count;
using attention_impl::Bk;
using attention_impl::Bq;

}  // namespace

std::size_t attention_forward_scratch_size(int64_t /*L*/, int64_t Dh) {
  return static_cast<std::size_t>(aligned_count(Bq * Bk) + aligned_count(Bq * Dh) + 2 * aligned_count(Bq));
}

std::size_t attention_backward_scratch_size(int64_t L, int64_t /*Dh*/) {
  return static_cast<std::size_t>(aligned_count(L) + 2 * aligned_count(Bq * Bk));
}

template <typename T>
void attention_forward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k, const T* v,
                       T* out, T* lse, std::type_identity_t<T>* scratch) {
  if constexpr (std::is_same_v<T, float>)
    active_kernels().attention_forward(d, scale, q, k, v, out, lse, scratch);
  else
    attention_impl::forward<T, EigenProducts>(d, scale, q, k, v, out, lse, scratch);
}

template <typename T>
void attention_backward(const AttentionDims& d, std::type_identity_t<T> scale, const T* q, const T* k, const T* v,
                        const T* out, const T* lse, const T* dout, std::type_identity_t<T>* dq,
                        std::type_identity_t<T>* dk, std::type_identity_t<T>* dv, std::type_identity_t<T>* scratch) {
  if constexpr (std::is_same_v<T, float>)
    active_kernels().attention_backward(d, scale, q, k, v, out, lse, dout, dq, dk, dv, scratch);
  else
    attention_impl::backward<T, EigenProducts>(d, scale, q, k, v, out, lse, dout, dq, dk, dv, scratch);
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
