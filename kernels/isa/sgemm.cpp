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
//   generic     4 x 8, vectors of four floats (GCC vector extensions: SSE2 on x86-64, NEON on arm64)
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
#include <type_traits>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/bf16.h"
#include "kernels/isa/isa_exports.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }

// Two bf16 values of a packed pair read or written as one 32-bit word. may_alias: the packing buffers
// hold uint16_t, and without it the compiler may assume a word access never touches them.
typedef uint32_t __attribute__((may_alias)) PairWord;
typedef int32_t __attribute__((may_alias)) SignedPairWord;

// Products narrower than this go through narrow_gemm.
constexpr int64_t kNarrowColumns = 16;

// ---- micro-kernels -----------------------------------------------------------------------------------
// Each defines MR, NR, the cache blocks MC (a multiple of MR), KC, NC (a multiple of NR), the packed
// element type Elem, kPair (k values per packed group: 1, or 2 for bf16 pairs), kRound (round float
// operands to bf16 while packing) and
//   run(groups, a, b, c, ldc, overwrite, bias): c[MR, NR] (row stride ldc) = a b + (overwrite ? bias : c)
// over `groups` packed k groups: a is [groups][MR][kPair], b is [groups][NR][kPair]; bias is NR values
// added to every row, or nullptr for none (then an overwritten tile is a b alone).

// What a stored tile (or row) of C adds to the product: C itself when the product accumulates into it,
// else the bias, or nothing (nullptr).
inline const float* addend(bool overwrite, const float* bias, const float* c) { return overwrite ? bias : c; }

// Asks for the cache lines of a tile of C (rows ldc apart) before the k loop, which then hides their
// latency: the tiles walk down a panel of columns, a pattern the hardware prefetchers do not follow, so
// without it the tile's final loads (accumulate, later depth blocks) and stores wait for memory.
template <int64_t MR, int64_t NR>
inline void prefetch_tile(const float* c, int64_t ldc) {
  for (int64_t r = 0; r < MR; ++r) {
    for (int64_t j = 0; j < NR; j += 16) __builtin_prefetch(c + r * ldc + j, 1, 3);
    __builtin_prefetch(c + r * ldc + NR - 1, 1, 3);  // the last line, where the row is not line-aligned
  }
}

// Portable: GCC/Clang vector extensions of four floats, which become SSE on the x86-64 baseline and NEON on
// arm64 (fused into FMLA there). A 4 x 8 tile keeps its 8 accumulators, 2 vectors of B and a broadcast in
// registers on SSE's 16 (plain loops over an accumulator array left it in memory: 8.6x slower than avx2).
template <bool Round>
struct GenericKernel {
  static constexpr int64_t MR = 4, NR = 8, MC = 128, KC = 256, NC = 1024;
  using Elem = float;
  static constexpr int64_t kPair = 1;
  static constexpr bool kRound = Round;
  typedef float Vec __attribute__((vector_size(16)));
  static void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* __restrict c,
                  int64_t ldc, bool overwrite, const float* bias) {
    Vec c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {};
    for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
      Vec b0, b1;
      std::memcpy(&b0, b, sizeof b0);
      std::memcpy(&b1, b + 4, sizeof b1);
      const Vec a0 = {a[0], a[0], a[0], a[0]}, a1 = {a[1], a[1], a[1], a[1]}, a2 = {a[2], a[2], a[2], a[2]},
                a3 = {a[3], a[3], a[3], a[3]};
      c00 += a0 * b0, c01 += a0 * b1;
      c10 += a1 * b0, c11 += a1 * b1;
      c20 += a2 * b0, c21 += a2 * b1;
      c30 += a3 * b0, c31 += a3 * b1;
    }
    put(c + 0 * ldc, c00, c01, addend(overwrite, bias, c + 0 * ldc));
    put(c + 1 * ldc, c10, c11, addend(overwrite, bias, c + 1 * ldc));
    put(c + 2 * ldc, c20, c21, addend(overwrite, bias, c + 2 * ldc));
    put(c + 3 * ldc, c30, c31, addend(overwrite, bias, c + 3 * ldc));
  }
  // row = lo hi + add (8 values, or nothing when add is null). By reference: passing vectors by value would
  // change the baseline's ABI (-Wpsabi).
  static void put(float* row, Vec& lo, Vec& hi, const float* add) {
    if (add != nullptr) {
      Vec old_lo, old_hi;
      std::memcpy(&old_lo, add, sizeof old_lo);
      std::memcpy(&old_hi, add + 4, sizeof old_hi);
      lo += old_lo, hi += old_hi;
    }
    std::memcpy(row, &lo, sizeof lo);
    std::memcpy(row + 4, &hi, sizeof hi);
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
                  int64_t ldc, bool overwrite, const float* bias) {
    // Written out register by register: GCC spills an array of accumulators (measured 42 vs 100 GFLOP/s).
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
           c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
           c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
           c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    prefetch_tile<MR, NR>(c, ldc);
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
      if (const float* add = addend(overwrite, bias, row)) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(add));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(add + 8));
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
    const float* add = addend(overwrite, bias, row);                    \
    __m512 lo = c##r##0, hi = c##r##1;                                  \
    if (add != nullptr) {                                               \
      lo = _mm512_add_ps(lo, _mm512_loadu_ps(add));                     \
      hi = _mm512_add_ps(hi, _mm512_loadu_ps(add + 16));                \
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
                  int64_t ldc, bool overwrite, const float* bias) {
    prefetch_tile<MR, NR>(c, ldc);
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
                  int64_t ldc, bool overwrite, const float* bias) {
    prefetch_tile<MR, NR>(c, ldc);
    MAD_AVX512_ROWS(MAD_AVX512_DECLARE)
    const SignedPairWord* pairs = reinterpret_cast<const SignedPairWord*>(a);
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

// bf16 pairs (kPair = 2) from full panels and an even depth: the two ways the k values of a pair can lie.
// Plain loops over a few contiguous values, which GCC vectorises (bf16_bits is branch-free).

// k runs along a row: src[0, kc) gives the pairs of one row or column of the panel, written to
// dst32[g * stride] for g < kc / 2.
inline void pack_pairs_along(const float* __restrict src, int64_t kc, int64_t stride, PairWord* __restrict dst32) {
  constexpr int64_t kChunk = 64;
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t n = min_of(kChunk, kc - k0);
    uint16_t bits[kChunk];
    for (int64_t j = 0; j < n; ++j) bits[j] = bf16_bits(src[k0 + j]);
    for (int64_t g = 0; g < n / 2; ++g)
      dst32[(k0 / 2 + g) * stride] = uint32_t(bits[2 * g]) | (uint32_t(bits[2 * g + 1]) << 16);
  }
}

// k runs across rows: s0 and s1 hold k = 2g and 2g + 1 for `width` rows or columns of the panel.
inline void pack_pairs_across(const float* __restrict s0, const float* __restrict s1, int64_t width,
                              uint16_t* __restrict dst) {
  for (int64_t c = 0; c < width; ++c) {
    dst[2 * c] = bf16_bits(s0[c]);
    dst[2 * c + 1] = bf16_bits(s1[c]);
  }
}

#if defined(__AVX2__)
// Transposes in registers for packing op(A) = A (rows of A along k): rows src[0..4) (or [0..2)) at depth
// k0..k0+8 go to dst[k * stride + r] for k < 8. Whole vectors of each row, rather than one float of each of
// MR rows per k: that gather was a quarter of the time of the products with N = 128 (docs/performance.md).
inline void transpose_4x8(const float* const* src, int64_t k0, float* dst, int64_t stride) {
  const __m256 r0 = _mm256_loadu_ps(src[0] + k0), r1 = _mm256_loadu_ps(src[1] + k0),
               r2 = _mm256_loadu_ps(src[2] + k0), r3 = _mm256_loadu_ps(src[3] + k0);
  // t0 = (r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]), t1 the same for k 2, 3 | 6, 7.
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
               t3 = _mm256_unpackhi_ps(r2, r3);
  // u_k = (r0[k] r1[k] r2[k] r3[k] | the same for k + 4).
  constexpr int kLow = _MM_SHUFFLE(1, 0, 1, 0), kHigh = _MM_SHUFFLE(3, 2, 3, 2);
  const __m256 u[4] = {_mm256_shuffle_ps(t0, t2, kLow), _mm256_shuffle_ps(t0, t2, kHigh), _mm256_shuffle_ps(t1, t3, kLow),
                       _mm256_shuffle_ps(t1, t3, kHigh)};
  for (int k = 0; k < 4; ++k) {
    _mm_storeu_ps(dst + k * stride, _mm256_castps256_ps128(u[k]));
    _mm_storeu_ps(dst + (k + 4) * stride, _mm256_extractf128_ps(u[k], 1));
  }
}
inline void transpose_2x8(const float* const* src, int64_t k0, float* dst, int64_t stride) {
  const __m256 r0 = _mm256_loadu_ps(src[0] + k0), r1 = _mm256_loadu_ps(src[1] + k0);
  // (r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5]) and the same for k 2, 3 | 6, 7: pairs of one k.
  const __m256 lo = _mm256_unpacklo_ps(r0, r1), hi = _mm256_unpackhi_ps(r0, r1);
  alignas(32) float pairs[16];
  _mm256_store_ps(pairs, lo);
  _mm256_store_ps(pairs + 8, hi);
  constexpr int kAt[8] = {0, 2, 8, 10, 4, 6, 12, 14};  // where the pair of k lies in `pairs`
  for (int k = 0; k < 8; ++k) std::memcpy(dst + k * stride, pairs + kAt[k], 2 * sizeof(float));
}
#endif

// Packs rows [0, mc) and depth [0, kc) of op(A) (A already offset to the block) into panels of MR rows:
// dst[panel][k / kPair][r][k % kPair] = op(A)(panel * MR + r, k), zero past row mc and depth kc.
// Full panels of unpaired operands take loops without bounds checks, written so that the stores are
// contiguous (packing is 10-40% of a small product's time; the checked loops cost the avx2 set 10%).
template <class Kernel>
void pack_a(int64_t mc, int64_t kc, const float* __restrict a, int64_t lda, bool trans,
            typename Kernel::Elem* __restrict dst) {
  constexpr int64_t MR = Kernel::MR, P = Kernel::kPair;
  const int64_t groups = (kc + P - 1) / P;
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * groups * P) {
    const int64_t rows = min_of(MR, mc - i0);
    if constexpr (P == 2) {
      if (rows == MR && kc % 2 == 0) {
        if (trans) {
          for (int64_t g = 0; g < kc / 2; ++g)
            pack_pairs_across(a + 2 * g * lda + i0, a + (2 * g + 1) * lda + i0, MR, dst + g * MR * 2);
        } else {
          for (int64_t r = 0; r < MR; ++r)
            pack_pairs_along(a + (i0 + r) * lda, kc, MR, reinterpret_cast<PairWord*>(dst) + r);
        }
        continue;
      }
    }
    if (P == 1 && rows == MR) {
      if (trans) {
        // op(A)(i, k) = A[k, i]: the MR values of one k are contiguous.
        if constexpr (std::is_same_v<typename Kernel::Elem, float> && !Kernel::kRound) {
          for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * MR, a + k * lda + i0, sizeof(float) * MR);
        } else {
          for (int64_t k = 0; k < kc; ++k)
            for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = packed<Kernel>(a[k * lda + i0 + r]);
        }
      } else {
        const float* src[MR];
        for (int64_t r = 0; r < MR; ++r) src[r] = a + (i0 + r) * lda;
        int64_t k = 0;
#if defined(__AVX2__)
        if constexpr (std::is_same_v<typename Kernel::Elem, float> && !Kernel::kRound && MR % 2 == 0) {
          for (; k + 8 <= kc; k += 8) {
            int64_t r = 0;
            for (; r + 4 <= MR; r += 4) transpose_4x8(src + r, k, dst + k * MR + r, MR);
            if (r < MR) transpose_2x8(src + r, k, dst + k * MR + r, MR);
          }
        }
#endif
        for (; k < kc; ++k)
          for (int64_t r = 0; r < MR; ++r) dst[k * MR + r] = packed<Kernel>(src[r][k]);
      }
      continue;
    }
    for (int64_t k = 0; k < groups * P; ++k) {
      typename Kernel::Elem* d = dst + (k / P) * MR * P + k % P;
      for (int64_t r = 0; r < MR; ++r) {
        const float x = k >= kc || r >= rows ? 0.0f : trans ? a[k * lda + i0 + r] : a[(i0 + r) * lda + k];
        d[r * P] = packed<Kernel>(x);
      }
    }
  }
}

// Packs depth [0, kc) and columns [0, nc) of op(B) into panels of NR columns:
// dst[panel][k / kPair][c][k % kPair] = op(B)(k, panel * NR + c), zero past column nc and depth kc.
template <class Kernel>
void pack_b(int64_t kc, int64_t nc, const float* __restrict b, int64_t ldb, bool trans,
            typename Kernel::Elem* __restrict dst) {
  constexpr int64_t NR = Kernel::NR, P = Kernel::kPair;
  const int64_t groups = (kc + P - 1) / P;
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * groups * P) {
    const int64_t cols = min_of(NR, nc - j0);
    if constexpr (P == 2) {
      if (cols == NR && kc % 2 == 0) {
        if (trans) {
          for (int64_t c = 0; c < NR; ++c)
            pack_pairs_along(b + (j0 + c) * ldb, kc, NR, reinterpret_cast<PairWord*>(dst) + c);
        } else {
          for (int64_t g = 0; g < kc / 2; ++g)
            pack_pairs_across(b + 2 * g * ldb + j0, b + (2 * g + 1) * ldb + j0, NR, dst + g * NR * 2);
        }
        continue;
      }
    }
    if (!trans) {
      // op(B)(k, j) = B[k, j]: a row of the panel is NR contiguous floats.
      for (int64_t k = 0; k < groups * P; ++k) {
        typename Kernel::Elem* d = dst + (k / P) * NR * P + k % P;
        const float* src = b + k * ldb + j0;
        if (k < kc && cols == NR) {
          // memcpy: GCC leaves the loop scalar, for fear that d and src overlap.
          if constexpr (P == 1 && !Kernel::kRound) std::memcpy(d, src, sizeof(float) * NR);
          else for (int64_t c = 0; c < NR; ++c) d[c * P] = packed<Kernel>(src[c]);
        } else {
          for (int64_t c = 0; c < NR; ++c) d[c * P] = packed<Kernel>(k < kc && c < cols ? src[c] : 0.0f);
        }
      }
    } else if (P == 1 && cols == NR) {
      // op(B)(k, j) = B[j, k]: column c of the panel is row j0 + c of B, read contiguously.
      for (int64_t c = 0; c < NR; ++c) {
        const float* src = b + (j0 + c) * ldb;
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + c] = packed<Kernel>(src[k]);
      }
    } else {
      // Column c of the panel is row j0 + c of B, read contiguously.
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
// C[M, N] (+)= op(A) op(B) for N < 16 (attention's products against a head of Dh = 8 columns): a 16-column
// tile would be mostly padding. Each element sums its K products in increasing k.

// Rows of C computed at once: independent accumulators hide the FMA latency one row's chain exposes. With
// 16 vector registers (SSE, AVX2) eight rows of eight floats and the operands fit; the baseline's 8-float
// rows are two SSE registers each, so it takes four.
#if defined(__AVX2__)
constexpr int64_t kNarrowRows = 8;
#else
constexpr int64_t kNarrowRows = 4;
#endif

template <int64_t kN> struct VectorOf;
template <> struct VectorOf<4> { typedef float type __attribute__((vector_size(16))); };
template <> struct VectorOf<8> { typedef float type __attribute__((vector_size(32))); };

// N = kN (4 or 8) with op(B) = B: a row of C and a row of B are each one vector (GCC/Clang vector
// extensions, so the generic set gets SSE or NEON and the others their own width).
template <int64_t kN, bool kRound>
void narrow_vector_rows(int64_t M, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                        float* C, int64_t ldc, bool accumulate, const float* bias) {
  using Vec = typename VectorOf<kN>::type;
  auto in = [](float x) { return kRound ? round_to_bf16(x) : x; };
  // Fills `b` rather than returning it: a vector return value would change the baseline set's ABI.
  auto b_row = [&](int64_t k, Vec& b) {
    std::memcpy(&b, B + k * ldb, sizeof(Vec));
    if constexpr (kRound)
      for (int64_t j = 0; j < kN; ++j) b[j] = round_to_bf16(b[j]);
  };
  auto a_at = [&](int64_t i, int64_t k) { return in(ta ? A[k * lda + i] : A[i * lda + k]); };
  auto store = [&](int64_t i, Vec& acc) {
    float* c = C + i * ldc;
    if (const float* add = addend(!accumulate, bias, c)) {
      Vec old;
      std::memcpy(&old, add, sizeof(Vec));
      acc += old;
    }
    std::memcpy(c, &acc, sizeof(Vec));
  };
  int64_t i0 = 0;
  for (; i0 + kNarrowRows <= M; i0 += kNarrowRows) {
    Vec acc[kNarrowRows] = {};
    for (int64_t k = 0; k < K; ++k) {
      Vec b;
      b_row(k, b);
#pragma GCC unroll 8
      for (int64_t r = 0; r < kNarrowRows; ++r) acc[r] += a_at(i0 + r, k) * b;
    }
#pragma GCC unroll 8
    for (int64_t r = 0; r < kNarrowRows; ++r) store(i0 + r, acc[r]);
  }
  for (; i0 < M; ++i0) {
    Vec acc = {};
    for (int64_t k = 0; k < K; ++k) {
      Vec b;
      b_row(k, b);
      acc += a_at(i0, k) * b;
    }
    store(i0, acc);
  }
}

// Any N < 16 and either transpose, a row of C at a time in a local array.
template <bool kRound>
void narrow_rows(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                 bool tb, float* C, int64_t ldc, bool accumulate, const float* bias) {
  auto in = [](float x) { return kRound ? round_to_bf16(x) : x; };
  for (int64_t i = 0; i < M; ++i) {
    float acc[16] = {};
    for (int64_t k = 0; k < K; ++k) {
      const float a = in(ta ? A[k * lda + i] : A[i * lda + k]);
      for (int64_t j = 0; j < N; ++j) acc[j] += a * in(tb ? B[j * ldb + k] : B[k * ldb + j]);
    }
    float* c = C + i * ldc;
    const float* add = addend(!accumulate, bias, c);
    for (int64_t j = 0; j < N; ++j) c[j] = add != nullptr ? add[j] + acc[j] : acc[j];
  }
}

template <bool kRound>
void narrow_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                 bool tb, float* C, int64_t ldc, bool accumulate, const float* bias) {
  if (N == 8 && !tb) narrow_vector_rows<8, kRound>(M, K, A, lda, ta, B, ldb, C, ldc, accumulate, bias);
  else if (N == 4 && !tb) narrow_vector_rows<4, kRound>(M, K, A, lda, ta, B, ldb, C, ldc, accumulate, bias);
  else narrow_rows<kRound>(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate, bias);
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
// buffer of which only the valid part is written back. bias: the tile's n bias values, or nullptr.
template <class Kernel>
void tile(int64_t groups, const typename Kernel::Elem* a, const typename Kernel::Elem* b, float* c, int64_t ldc,
          int64_t m, int64_t n, bool overwrite, const float* bias) {
  constexpr int64_t MR = Kernel::MR, NR = Kernel::NR;
  if (m == MR && n == NR) {
    Kernel::run(groups, a, b, c, ldc, overwrite, bias);
    return;
  }
  alignas(64) float buf[MR * NR];
  Kernel::run(groups, a, b, buf, NR, true, nullptr);
  for (int64_t i = 0; i < m; ++i) {
    const float* add = addend(overwrite, bias, c + i * ldc);
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = add != nullptr ? add[j] + buf[i * NR + j] : buf[i * NR + j];
  }
}

template <class Kernel>
void blocked_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                   int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias) {
  constexpr int64_t MR = Kernel::MR, NR = Kernel::NR, MC = Kernel::MC, KC = Kernel::KC, NC = Kernel::NC,
                    P = Kernel::kPair;
  static_assert(MC % MR == 0 && NC % NR == 0 && KC % P == 0, "cache blocks must hold whole tiles and k groups");
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) {
        if (bias != nullptr) std::memcpy(C + i * ldc, bias, sizeof(float) * static_cast<size_t>(N));
        else std::memset(C + i * ldc, 0, sizeof(float) * static_cast<size_t>(N));
      }
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
      // The first depth block overwrites C (adding the bias, if any) unless the caller accumulates; later
      // blocks add to C.
      const bool overwrite = pc == 0 && !accumulate;
      pack_b<Kernel>(kc, nc, trans_b ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, trans_b, buf.b);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = min_of(MC, M - ic);
        pack_a<Kernel>(mc, kc, trans_a ? A + pc * lda + ic : A + ic * lda + pc, lda, trans_a, buf.a);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const typename Kernel::Elem* b_panel = buf.b + jr * groups * P;
          const float* tile_bias = bias != nullptr ? bias + jc + jr : nullptr;
          for (int64_t ir = 0; ir < mc; ir += MR)
            tile<Kernel>(groups, buf.a + ir * groups * P, b_panel, C + (ic + ir) * ldc + jc + jr, ldc,
                         min_of(MR, mc - ir), min_of(NR, nc - jr), overwrite, tile_bias);
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
               int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias) {
  if (N < kNarrowColumns) narrow_gemm<false>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
  else blocked_sgemm<F32Kernel<false>>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
}

void sgemm_bf16(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool trans_a, const float* B,
                int64_t ldb, bool trans_b, float* C, int64_t ldc, bool accumulate, const float* bias) {
  if (N < kNarrowColumns) narrow_gemm<true>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
  else blocked_sgemm<Bf16Kernel>(M, N, K, A, lda, trans_a, B, ldb, trans_b, C, ldc, accumulate, bias);
}

}  // namespace mad::kernels::MAD_ISA_NS
