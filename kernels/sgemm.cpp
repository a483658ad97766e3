#include "kernels/sgemm.h"

#include "kernels/isa/kernel_table.h"

namespace mad::kernels {

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B, int64_t ldb,
           bool trans_b, float* C, int64_t ldc, bool accumulate) {
  active_kernels().sgemm(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
}

void sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate) {
  active_kernels().sgemm_bf16(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
}

}  // namespace mad::kernels
