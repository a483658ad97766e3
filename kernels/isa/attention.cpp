// The float32 fused attention kernels (kernels/attention.h, algorithm in kernels/attention_impl.h),
// compiled once per instruction set: the tile products go through this set's SGEMM and the softmax's
// exponentials are kernels/vecmath.h's, vectorised for this set. In the bf16 compute mode
// (kernels/precision.h) every tile product takes its inputs rounded to bf16, as autocast does.
#include <cstdint>

#include "kernels/attention_impl.h"
#include "kernels/attention_narrow_heads.h"
#include "kernels/bf16.h"
#include "kernels/isa/isa_exports.h"
#include "kernels/precision.h"

namespace mad::kernels::MAD_ISA_NS {
namespace {

struct IsaProducts {
  static void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, bool ta, const float* B, int64_t ldb,
                   bool tb, float* C, int64_t ldc, bool accumulate) {
    sgemm_f32(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate, nullptr);
  }
};

// Copies rows [0, L) x [0, Dh) of x (row stride ld) to dst [L, Dh], rounded to bf16; returns dst.
const float* rounded_copy(const float* x, int64_t ld, const AttentionDims& d, float* dst) {
  for (int64_t i = 0; i < d.L; ++i) round_array_to_bf16(x + i * ld, dst + i * d.Dh, d.Dh);
  return dst;
}

bool bf16_mode() { return matmul_precision() == Precision::bf16; }

// Heads of 4, 8 or 16 go through kernels/attention_narrow_heads.h, wider ones through the tiles.
void forward_any(const AttentionDims& d, float scale, const attention_impl::Operands<float>& in, bool round_tiles,
                 float* out, float* lse, float* scratch) {
  switch (d.Dh) {
    case 4: return attention_narrow::forward<4>(d, scale, in, round_tiles, out, lse, scratch);
    case 8: return attention_narrow::forward<8>(d, scale, in, round_tiles, out, lse, scratch);
    case 16: return attention_narrow::forward<16>(d, scale, in, round_tiles, out, lse, scratch);
    default: return attention_impl::forward<float, IsaProducts>(d, scale, in, round_tiles, out, lse, scratch);
  }
}

void backward_any(const AttentionDims& d, float scale, const attention_impl::Operands<float>& in, bool round_tiles,
                  const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                  float* scratch) {
  using attention_narrow::backward;
  switch (d.Dh) {
    case 4: return backward<4, IsaProducts>(d, scale, in, round_tiles, out, lse, dout, dq, dk, dv, scratch);
    case 8: return backward<8, IsaProducts>(d, scale, in, round_tiles, out, lse, dout, dq, dk, dv, scratch);
    case 16: return backward<16, IsaProducts>(d, scale, in, round_tiles, out, lse, dout, dq, dk, dv, scratch);
    default:
      return attention_impl::backward<float, IsaProducts>(d, scale, in, round_tiles, out, lse, dout, dq, dk, dv,
                                                          scratch);
  }
}

}  // namespace

// In the bf16 mode the tile products take operands rounded to bf16 (attention_impl.h) and multiply them
// with the float32 kernel: a product of two bf16 values is exact in float32, so this equals a bf16 product
// with float32 accumulation, and the tiles' K = Dh = 8 is too short for VDPBF16PS to pay its packing.
void attention_forward_f32(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                           float* out, float* lse, float* scratch) {
  if (!bf16_mode()) {
    forward_any(d, scale, {q, k, v, nullptr, d.ld, d.ld_out}, false, out, lse, scratch);
    return;
  }
  using attention_impl::aligned_count;
  float* copies = scratch + attention_impl::forward_tile_scratch(d.Dh);
  const int64_t n = aligned_count(d.L * d.Dh);
  const attention_impl::Operands<float> in{rounded_copy(q, d.ld, d, copies), rounded_copy(k, d.ld, d, copies + n),
                                           rounded_copy(v, d.ld, d, copies + 2 * n), nullptr, d.Dh, d.Dh};
  forward_any(d, scale, in, true, out, lse, scratch);
}

void attention_backward_f32(const AttentionDims& d, float scale, const float* q, const float* k, const float* v,
                            const float* out, const float* lse, const float* dout, float* dq, float* dk, float* dv,
                            float* scratch) {
  if (!bf16_mode()) {
    backward_any(d, scale, {q, k, v, dout, d.ld, d.ld_out}, false, out, lse, dout, dq, dk, dv, scratch);
    return;
  }
  using attention_impl::aligned_count;
  float* copies = scratch + attention_impl::backward_tile_scratch(d.L);
  const int64_t n = aligned_count(d.L * d.Dh);
  const attention_impl::Operands<float> in{rounded_copy(q, d.ld, d, copies), rounded_copy(k, d.ld, d, copies + n),
                                           rounded_copy(v, d.ld, d, copies + 2 * n),
                                           rounded_copy(dout, d.ld_out, d, copies + 3 * n), d.Dh, d.Dh};
  backward_any(d, scale, in, true, out, lse, dout, dq, dk, dv, scratch);
}

}  // namespace mad::kernels::MAD_ISA_NS
