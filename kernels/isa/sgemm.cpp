// Packed, cache-blocked single-precision matrix product (the BLIS algorithm), compiled once per
// instruction set (kernels/isa/isa_namespace.h); kernels/sgemm.h documents the interface.
//
//   C[M, N] (+)= op(A)[M, K] * op(B)[K, N]
//
// Blocking (BLIS, Van Zee & van de Geijn 2015): for each block of NC columns and KC depth, op(B) is packed
// into NR-wide column panels; for each block of MC rows, op(A) is packed into MR-tall row panels. An
// MR x NR register micro-kernel then multiplies a panel of A by a panel of B. Packing zero-pads the edge
// panels, so the micro-kernel always runs the full tile; edge tiles are written through a small buffer.
// Transposes only change how packing reads the operands.
//
// Micro-kernels, one per instruction set:
//   generic     4 x 16, plain C++ loops the compiler vectorises for the baseline target (SSE2, NEON)
//   avx2        6 x 16, 12 ymm accumulators, 2 loads of B and 6 broadcasts of A per k
//   avx512      12 x 32, 24 zmm accumulators, 2 loads of B and 12 broadcasts of A per k
//   avx512bf16  for bf16 products: 12 x 32 on VDPBF16PS, which multiplies pairs of k at once (operands
//               packed as bf16 pairs [k/2][rows][2]); float32 products use the avx512 kernel.
// The bf16 mode on the other sets rounds the operands to bf16 while packing and runs the float32 kernel.
//
// Each element of C sums its K products in the same order whatever M, N or the caller's split into blocks
// (KC blocks in increasing k, FMA within a block), so splitting C across threads gives bit-identical
// results for a fixed thread count and instruction set (docs/architecture.md, determinism).
//
// Memory: the packing buffers are allocated once per thread and kernel, at its first call, and reused;
// later calls perform no heap allocation (the no-allocation training step relies on it).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/bf16.h"
#include "kernels/isa/isa_exports.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }

// Products narrower than this go through narrow_gemm.
constexpr int64_t kNarrowColumns = 16;

// ---- micro-kernels -----------------------------------------------------------------------------------
// Each defines MR, NR, the cache blocks MC (a multiple of MR), KC, NC (a multiple of NR), the packed
// element type Elem, kPair (k values per packed group: 1, or 2 for bf16 pairs), kRound (round float
// operands to bf16 while packing) and
//   run(groups, a, b, c, ldc, overwrite): c[MR, NR] (row stride ldc) = (overwrite ? 0 : c) + a b
// over `groups` packed k groups: a is [groups][MR][kPair], b is [groups][NR][kPair].

template <bool Round>
struct GenericKernel {
  static constexpr int64_t MR = 4, NR = 16, MC = 128, KC = 256, NC = 1024;
  using Elem = float;
  static constexpr int64_t kPair = 1;
  static constexpr bool kRound = Round;
  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool overwrite) {
    float acc[MR][NR] = {};
    for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
      for (int64_t r = 0; r < MR; ++r)
        for (int64_t j = 0; j < NR; ++j) acc[r][j] += a[r] * b[j];
    for (int64_t r = 0; r < MR; ++r)
      for (int64_t j = 0; j < NR; ++j) c[r * ldc + j] = overwrite ? acc[r][j] : c[r * ldc + j] + acc[r][j];
  }
};

#if defined(__AVX2__) && !defined(__AVX512F__)
template <bool Round>
struct Avx2Kernel {
  static constexpr int64_t MR = 6, NR = 16, MC = 144, KC = 256, NC = 1024;
  using Elem = float;
  static constexpr int64_t kPair = 1;
  static constexpr bool kRound = Round;
  // The 6 x 16 tile lives in 12 ymm registers for the whole k loop (the FMA units, not memory, are the
  // limit).
  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool overwrite) {
    // Written out register by register: GCC spills an array of accumulators (measured 42 vs 100 GFLOP/s).
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
           c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
           c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
           c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
      const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
      __m256 ai;
#define MAD_AVX2_ROW(r)                        \
  ai = _mm256_broadcast_ss(a + r);             \
  c##r##0 = _mm256_fmadd_ps(ai, b0, c##r##0);  \
  c##r##1 = _mm256_fmadd_ps(ai, b1, c##r##1);
      MAD_AVX2_ROW(0) MAD_AVX2_ROW(1) MAD_AVX2_ROW(2) MAD_AVX2_ROW(3) MAD_AVX2_ROW(4) MAD_AVX2_ROW(5)
#undef MAD_AVX2_ROW
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
};
#endif

#if defined(__AVX512F__)
// The 12 x 32 tile in 24 zmm registers, written out register by register (GCC spills an array of
// accumulators). MAD_AVX512_TILE(STEP) declares the accumulators, runs STEP(r) for the 12 rows of each
// packed k group, then stores the tile; STEP(r) updates c<r>0 and c<r>1.
#define MAD_AVX512_DECLARE(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
#define MAD_AVX512_PUT(r)                                               \
  {                                                                     \
    float* row = c + r * ldc;                                           \
    __m512 lo = c##r##0, hi = c##r##1;                                  \
    if (!overwrite) {                                                   \
      lo = _mm512_add_ps(lo, _mm512_loadu_ps(row));                     \
      hi = _mm512_add_ps(hi, _mm512_loadu_ps(row + 16));                \
    }                                                                   \
    _mm512_storeu_ps(row, lo);                                          \
    _mm512_storeu_ps(row + 16, hi);                                     \
  }
#define MAD_AVX512_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

template <bool Round>
struct Avx512Kernel {
  static constexpr int64_t MR = 12, NR = 32, MC = 144, KC = 256, NC = 1024;
  using Elem = float;
  static constexpr int64_t kPair = 1;
  static constexpr bool kRound = Round;
  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool overwrite) {
    MAD_AVX512_ROWS(MAD_AVX512_DECLARE)
#pragma GCC unroll 2
    for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
      const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#define MAD_AVX512_F32_ROW(r)                                 \
  {                                                           \
    const __m512 ai = _mm512_set1_ps(a[r]);                   \
    c##r##0 = _mm512_fmadd_ps(ai, b0, c##r##0);               \
    c##r##1 = _mm512_fmadd_ps(ai, b1, c##r##1);               \
  }
      MAD_AVX512_ROWS(MAD_AVX512_F32_ROW)
#undef MAD_AVX512_F32_ROW
    }
    MAD_AVX512_ROWS(MAD_AVX512_PUT)
  }
};
#endif

#if defined(__AVX512BF16__)
// Operands packed as bf16 pairs: one 32-bit broadcast of A carries (k, k + 1) of a row, one zmm of B the
// pairs of 16 columns; VDPBF16PS adds both products to each float32 lane.
struct Avx512Bf16Kernel {
  static constexpr int64_t MR = 12, NR = 32, MC = 144, KC = 512, NC = 1024;
  using Elem = uint16_t;
  static constexpr int64_t kPair = 2;
  static constexpr bool kRound = false;
  static void run(int64_t groups, const uint16_t* __restrict a, const uint16_t* __restrict b, float* __restrict c,
                  int64_t ldc, bool overwrite) {
    MAD_AVX512_ROWS(MAD_AVX512_DECLARE)
    const int32_t* pairs = reinterpret_cast<const int32_t*>(a);
#pragma GCC unroll 2
    for (int64_t g = 0; g < groups; ++g, pairs += MR, b += 2 * NR) {
      const __m512bh b0 = (__m512bh)_mm512_load_si512(b), b1 = (__m512bh)_mm512_load_si512(b + NR);
#define MAD_AVX512_BF16_ROW(r)                                        \
  {                                                                   \
    const __m512bh ai = (__m512bh)_mm512_set1_epi32(pairs[r]);        \
    c##r##0 = _mm512_dpbf16_ps(c##r##0, ai, b0);                      \
    c##r##1 = _mm512_dpbf16_ps(c##r##1, ai, b1);                      \
  }
      MAD_AVX512_ROWS(MAD_AVX512_BF16_ROW)
#undef MAD_AVX512_BF16_ROW
    }
    MAD_AVX512_ROWS(MAD_AVX512_PUT)
  }
};
#endif

// ---- packing -----------------------------------------------------------------------------------------

template <class Kernel>
inline typename Kernel::Elem packed(float x) {
  if constexpr (Kernel::kPair == 2) return bf16_bits(x);
  else if constexpr (Kernel::kRound) return round_to_bf16(x);
  else return x;
}

// Packs rows [0, mc) and depth [0, kc) of op(A) (A already offset to the block) into panels of MR rows:
// dst[panel][k / kPair][r][k % kPair] = op(A)(panel * MR + r, k), zero past row mc and depth kc.
template <class Kernel>
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t lda, bool trans, typename Kernel::Elem* dst) {
  constexpr int64_t MR = Kernel::MR, P = Kernel::kPair;
  const int64_t groups = (kc + P - 1) / P;
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * groups * P) {
    const int64_t rows = min_of(MR, mc - i0);
    if (trans) {
      // op(A)(i, k) = A[k, i]: the MR values of one k are contiguous.
      for (int64_t k = 0; k < groups * P; ++k) {
        typename Kernel::Elem* d = dst + (k / P) * MR * P + k % P;
        const float* src = a + k * lda + i0;
        for (int64_t r = 0; r < MR; ++r) d[r * P] = packed<Kernel>(k < kc && r < rows ? src[r] : 0.0f);
      }
    } else {
      for (int64_t r = 0; r < MR; ++r) {
        typename Kernel::Elem* d = dst + r * P;
        if (r >= rows) {
          for (int64_t k = 0; k < groups * P; ++k) d[(k / P) * MR * P + k % P] = packed<Kernel>(0.0f);
          continue;
        }
        const float* src = a + (i0 + r) * lda;
        for (int64_t k = 0; k < kc; ++k) d[(k / P) * MR * P + k % P] = packed<Kernel>(src[k]);
        for (int64_t k = kc; k < groups * P; ++k) d[(k / P) * MR * P + k % P] = packed<Kernel>(0.0f);
      }
    }
  }
}

// Packs depth [0, kc) and columns [0, nc) of op(B) into panels of NR columns:
// dst[panel][k / kPair][c][k % kPair] = op(B)(k, panel * NR + c), zero past column nc and depth kc.
template <class Kernel>
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t ldb, bool trans, typename Kernel::Elem* dst) {
  constexpr int64_t NR = Kernel::NR, P = Kernel::kPair;
  const int64_t groups = (kc + P - 1) / P;
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * groups * P) {
    const int64_t cols = min_of(NR, nc - j0);
    if (!trans) {
      // op(B)(k, j) = B[k, j]: a row of the panel is NR contiguous floats.
      for (int64_t k = 0; k < groups * P; ++k) {
        typename Kernel::Elem* d = dst + (k / P) * NR * P + k % P;
        const float* src = b + k * ldb + j0;
        if (k < kc && cols == NR) {
          for (int64_t c = 0; c < NR; ++c) d[c * P] = packed<Kernel>(src[c]);
        } else {
          for (int64_t c = 0; c < NR; ++c) d[c * P] = packed<Kernel>(k < kc && c < cols ? src[c] : 0.0f);
        }
      }
    } else {
      // op(B)(k, j) = B[j, k]: column c of the panel is row j0 + c of B, read contiguously.
      for (int64_t c = 0; c < NR; ++c) {
        typename Kernel::Elem* d = dst + c * P;
        const float* src = b + (j0 + c) * ldb;
        for (int64_t k = 0; k < groups * P; ++k)
          d[(k / P) * NR * P + k % P] = packed<Kernel>(c < cols && k < kc ? src[k] : 0.0f);
      }
    }
  }
}

// ---- narrow products ---------------------------------------------------------------------------------
// C[M, N] (+)= op(A) op(B) for N < 16 (attention's products against a head of Dh = 8 columns), one row
// of C at a time in registers: a 16-column tile would be mostly padding. N is a template argument for the
// common head widths so that the row is a whole vector. Each element sums its K products in increasing k.
template <int64_t kN, bool kRound>
void narrow_rows(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                 bool tb, float* C, int64_t ldc, bool accumulate) {
  // kRows rows of C at once: independent accumulators hide the FMA latency that one row's chain exposes.
  constexpr int64_t kRows = 4;
  const int64_t n = kN > 0 ? kN : N;
  auto in = [](float x) { return kRound ? round_to_bf16(x) : x; };
  auto a_at = [&](int64_t i, int64_t k) { return in(ta ? A[k * lda + i] : A[i * lda + k]); };
  for (int64_t i0 = 0; i0 < M; i0 += kRows) {
    const int64_t rows = min_of(kRows, M - i0);
    float acc[kRows][16] = {};
    for (int64_t k = 0; k < K; ++k) {
      float b[16];
      for (int64_t j = 0; j < n; ++j) b[j] = in(tb ? B[j * ldb + k] : B[k * ldb + j]);
      if (rows == kRows) {
        for (int64_t r = 0; r < kRows; ++r) {
          const float a = a_at(i0 + r, k);
          for (int64_t j = 0; j < n; ++j) acc[r][j] += a * b[j];
        }
      } else {
        for (int64_t r = 0; r < rows; ++r) {
          const float a = a_at(i0 + r, k);
          for (int64_t j = 0; j < n; ++j) acc[r][j] += a * b[j];
        }
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* c = C + (i0 + r) * ldc;
      for (int64_t j = 0; j < n; ++j) c[j] = accumulate ? c[j] + acc[r][j] : acc[r][j];
    }
  }
}

template <bool kRound>
void narrow_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                 bool tb, float* C, int64_t ldc, bool accumulate) {
  if (N == 8) narrow_rows<8, kRound>(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate);
  else if (N == 4) narrow_rows<4, kRound>(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate);
  else narrow_rows<0, kRound>(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate);
}

// ---- the blocked product -----------------------------------------------------------------------------

// One thread's packing buffers for one kernel: allocated at the thread's first call, reused later.
template <class Kernel>
struct PackBuffers {
  using Elem = typename Kernel::Elem;
  Elem* a = nullptr;  // [MC / MR panels][KC / kPair][MR][kPair]
  Elem* b = nullptr;  // [NC / NR panels][KC / kPair][NR][kPair]
  PackBuffers() {
    a = static_cast<Elem*>(std::aligned_alloc(64, sizeof(Elem) * Kernel::MC * Kernel::KC));
    b = static_cast<Elem*>(std::aligned_alloc(64, sizeof(Elem) * Kernel::KC * Kernel::NC));
    if (a == nullptr || b == nullptr) throw std::bad_alloc();
  }
  ~PackBuffers() {
    std::free(a);
    std::free(b);
  }
  PackBuffers(const PackBuffers&) = delete;
  PackBuffers& operator=(const PackBuffers&) = delete;
};

// A tile of m <= MR rows and n <= NR columns of C: full tiles go straight to C, edge tiles through a
// buffer of which only the valid part is written back.
template <class Kernel>
void tile(int64_t groups, const typename Kernel::Elem* a, const typename Kernel::Elem* b, float* c, int64_t ldc,
          int64_t m, int64_t n, bool overwrite) {
  constexpr int64_t MR = Kernel::MR, NR = Kernel::NR;
  if (m == MR && n == NR) {
    Kernel::run(groups, a, b, c, ldc, overwrite);
    return;
  }
  alignas(64) float buf[MR * NR];
  Kernel::run(groups, a, b, buf, NR, true);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = overwrite ? buf[i * NR + j] : c[i * ldc + j] + buf[i * NR + j];
}

template <class Kernel>
void blocked_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                   int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate) {
  constexpr int64_t MR = Kernel::MR, NR = Kernel::NR, MC = Kernel::MC, KC = Kernel::KC, NC = Kernel::NC,
                    P = Kernel::kPair;
  static_assert(MC % MR == 0 && NC % NR == 0 && KC % P == 0, "cache blocks must hold whole tiles and k groups");
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::memset(C + i * ldc, 0, sizeof(float) * static_cast<size_t>(N));
    return;
  }
  thread_local PackBuffers<Kernel> buf;
  // Depth blocks of equal size (K = 352: 176 + 176 rather than 256 + 96): a short last block would pay
  // the C tile's load and store for little work. Blocks hold whole k groups.
  const int64_t k_blocks = (K + KC - 1) / KC;
  const int64_t kc_even = ((K + k_blocks - 1) / k_blocks + P - 1) / P * P;
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = min_of(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += kc_even) {
      const int64_t kc = min_of(kc_even, K - pc), groups = (kc + P - 1) / P;
      // The first depth block overwrites C unless the caller accumulates; later blocks add.
      const bool overwrite = pc == 0 && !accumulate;
      pack_b<Kernel>(kc, nc, trans_b ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, trans_b, buf.b);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = min_of(MC, M - ic);
        pack_a<Kernel>(mc, kc, trans_a ? A + pc * lda + ic : A + ic * lda + pc, lda, trans_a, buf.a);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const typename Kernel::Elem* b_panel = buf.b + jr * groups * P;
          for (int64_t ir = 0; ir < mc; ir += MR)
            tile<Kernel>(groups, buf.a + ir * groups * P, b_panel, C + (ic + ir) * ldc + jc + jr, ldc,
                         min_of(MR, mc - ir), min_of(NR, nc - jr), overwrite);
        }
      }
    }
  }
}

#if defined(__AVX512F__)
template <bool Round> using F32Kernel = Avx512Kernel<Round>;
#elif defined(__AVX2__)
template <bool Round> using F32Kernel = Avx2Kernel<Round>;
#else
template <bool Round> using F32Kernel = GenericKernel<Round>;
#endif

#if defined(__AVX512BF16__)
using Bf16Kernel = Avx512Bf16Kernel;
#else
using Bf16Kernel = F32Kernel<true>;
#endif

}  // namespace

void sgemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
               int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate) {
  if (N < kNarrowColumns) narrow_gemm<false>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
  else blocked_sgemm<F32Kernel<false>>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
}

void sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate) {
  if (N < kNarrowColumns) narrow_gemm<true>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
  else blocked_sgemm<Bf16Kernel>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate);
}

}  // namespace mad::kernels::MAD_ISA_NS
