// The float32 fused attention kernels (kernels/attention.h, algorithm in kernels/attention_impl.h),
// compiled once per instruction set: the tile products go through this set's SGEMM and the softmax's
// exponentials are kernels/vecmath.h's, vectorised for this set. In the bf16 compute mode
// (kernels/precision.h) every tile product rounds its inputs to bf16, as autocast does.
#include <cstdint>

#include "kernels/attention_impl.h"
#include "kernels/isa/isa_exports.h"
#include "kernels/precision.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

struct IsaProducts {
  static void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                   bool tb, float* C, int64_t ldc, bool accumulate) {
    const bool bf16 = matmul_precision() == Precision::bf16;
    (bf16 ? sgemm_bf16 : sgemm_f32)(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate);
  }
};

}  // namespace

void attention_forward_f32(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                           float* out, float* lse, float* scratch) {
  attention_impl::forward<float, IsaProducts>(d, scale, q, k, v, out, lse, scratch);
}

void attention_backward_f32(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                            const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                            float* scratch) {
  attention_impl::backward<float, IsaProducts>(d, scale, q, k, v, out, lse, dout, dq, dk, dv, scratch);
}

}  // namespace mad::kernels::MAD_ISA_NS
