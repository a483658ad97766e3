#include "kernels/sgemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mad::kernels {
namespace {

constexpr int64_t MR = kSgemmMr, NR = kSgemmNr, KC = kSgemmKc, MC = kSgemmMc, NC = kSgemmNc;
static_assert(MC % MR == 0 && NC % NR == 0, "cache blocks must hold whole register tiles");
static_assert(MR == 6 && NR == 16, "the micro-kernel below is written for a 6 x 16 tile");

// One thread's packing buffers: allocated at the thread's first call, reused by every later call.
struct PackBuffers {
  float* a = nullptr;  // [MC / MR panels][KC][MR]
  float* b = nullptr;  // [NC / NR panels][KC][NR]
  PackBuffers() {
    a = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * MC * KC));
    b = static_cast<float*>(std::aligned_alloc(64, sizeof(float) * KC * NC));
    if (a == nullptr || b == nullptr) throw std::bad_alloc();
  }
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
  PackBuffers(const PackBuffers&) = delete;
  PackBuffers& operator=(const PackBuffers&) = delete;
};

PackBuffers& pack_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// Packs rows [0, mc) and depth [0, kc) of op(A), starting at `a` (already offset to the block), into
// panels of MR rows: dst[panel][k][r] = op(A)(panel * MR + r, k), zero past row mc.
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t lda, bool trans, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t rows = std::min(MR, mc - i0);
    if (trans) {
      // op(A)(i, k) = A[k, i]: the MR values of one k are contiguous.
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = a + k * lda + i0;
        float* d = dst + k * MR;
        for (int64_t r = 0; r < rows; ++r) d[r] = src[r];
        for (int64_t r = rows; r < MR; ++r) d[r] = 0.0f;
      }
    } else if (rows == MR) {
      const float* src[MR];
      for (int64_t r = 0; r < MR; ++r) src[r] = a + (i0 + r) * lda;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = src[r][k];
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = r < rows ? a[(i0 + r) * lda + k] : 0.0f;
    }
  }
}

// Packs depth [0, kc) and columns [0, nc) of op(B), starting at `b`, into panels of NR columns:
// dst[panel][k][c] = op(B)(k, panel * NR + c), zero past column nc.
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t ldb, bool trans, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t cols = std::min(NR, nc - j0);
    if (!trans && cols == NR) {
      // op(B)(k, j) = B[k, j]: a row of the panel is 16 contiguous floats.
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = b + k * ldb + j0;
        _mm256_store_ps(dst + k * NR, _mm256_loadu_ps(src));
        _mm256_store_ps(dst + k * NR + 8, _mm256_loadu_ps(src + 8));
      }
    } else if (!trans) {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t c = 0; c < NR; ++c) dst[k * NR + c] = c < cols ? b[k * ldb + j0 + c] : 0.0f;
    } else {
      // op(B)(k, j) = B[j, k]: column c of the panel is row j0 + c of B, read contiguously.
      for (int64_t c = 0; c < NR; ++c) {
        if (c < cols) {
          const float* src = b + (j0 + c) * ldb;
          for (int64_t k = 0; k < kc; ++k) dst[k * NR + c] = src[k];
        } else {
          for (int64_t k = 0; k < kc; ++k) dst[k * NR + c] = 0.0f;
        }
      }
    }
  }
}

// c[6, 16] (row stride ldc) = (overwrite ? 0 : c) + a_panel [kc][6] * b_panel [kc][16].
// The 6 x 16 tile lives in 12 ymm registers for the whole k loop; each k costs 2 loads of B, 6
// broadcasts of A and 12 FMAs (the FMA units, not memory, are the limit).
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool overwrite) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ai, b0, c00);
    c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10);
    c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20);
    c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30);
    c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40);
    c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50);
    c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  auto put = [&](float* row, __m256 lo, __m256 hi) {
    if (!overwrite) {
      lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));
      hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, lo);
    _mm256_storeu_ps(row + 8, hi);
  };
  put(c + 0 * ldc, c00, c01);
  put(c + 1 * ldc, c10, c11);
  put(c + 2 * ldc, c20, c21);
  put(c + 3 * ldc, c30, c31);
  put(c + 4 * ldc, c40, c41);
  put(c + 5 * ldc, c50, c51);
}

// A tile of m <= MR rows and n <= NR columns of C: full tiles go straight to C, edge tiles through a
// buffer of which only the valid part is written back.
void tile(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t m, int64_t n, bool overwrite) {
  if (m == MR && n == NR) {
    micro_kernel(kc, a, b, c, ldc, overwrite);
    return;
  }
  alignas(32) float buf[MR * NR];
  micro_kernel(kc, a, b, buf, NR, true);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = overwrite ? buf[i * NR + j] : c[i * ldc + j] + buf[i * NR + j];
}

}  // namespace

void sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B, int64_t ldb,
           bool trans_b, float* C, int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, sizeof(float) * static_cast<size_t>(N));
    return;
  }
  PackBuffers& buf = pack_buffers();
  // Depth blocks of equal size (K = 352: 176 + 176 rather than 256 + 96): a short last block would pay
  // the C tile's load and store for little work.
  const int64_t k_blocks = (K + KC - 1) / KC, kc_even = (K + k_blocks - 1) / k_blocks;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kc_even) {
      const int64_t kc = std::min(kc_even, K - pc);
      // The first depth block overwrites C unless the caller accumulates; later blocks add.
      const bool overwrite = pc == 0 && !accumulate;
      pack_b(kc, nc, trans_b ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, trans_b, buf.b);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_a(mc, kc, trans_a ? A + pc * lda + ic : A + ic * lda + pc, lda, trans_a, buf.a);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const float* b_panel = buf.b + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR)
            tile(kc, buf.a + ir * kc, b_panel, C + (ic + ir) * ldc + jc + jr, ldc, std::min(MR, mc - ir),
                 std::min(NR, nc - jr), overwrite);
        }
      }
    }
  }
}

}  // namespace mad::kernels
