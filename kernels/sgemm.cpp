#include "kernels/sgemm.h"

#include "kernels/check.h"
#include "kernels/isa/kernel_table.h"

namespace mad::kernels {

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B, int64_t ldb,
           bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias) {
  MAD_KERNEL_CHECK(bias == nullptr || !accumulate, "sgemm: a bias is added to a product that overwrites C only");
  active_kernels().sgemm(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
}

void sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias) {
  MAD_KERNEL_CHECK(bias == nullptr || !accumulate, "sgemm_bf16: a bias is added to a product that overwrites C only");
  active_kernels().sgemm_bf16(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
}

}  // namespace mad::kernels
