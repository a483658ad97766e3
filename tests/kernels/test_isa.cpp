// Runtime instruction-set dispatch (kernels/isa.h): MAD_ISA's parsing and errors, and every instruction set
// this CPU supports agreeing with the generic kernels (SGEMM, attention, the unary functions, the SwiGLU
// gate) within 1e-5 relative; the bf16 products against a float64 reference on bf16-rounded inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/isa.h"
#include "kernels/isa/kernel_table.h"
#include "kernels/precision.h"

namespace mad::kernels {
namespace {

using testing::random_vector;
using testing::relative_max_error;

std::string message_of(const char* value, const std::vector<Isa>& supported) {
  try {
    choose_isa(value, supported);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(Isa, ChoiceHonoursMadIsa) {
  const std::vector<Isa> all = {Isa::generic, Isa::avx2, Isa::avx512, Isa::avx512bf16};
  EXPECT_EQ(choose_isa(nullptr, all), Isa::avx512bf16);
  EXPECT_EQ(choose_isa("", all), Isa::avx512bf16);
  EXPECT_EQ(choose_isa("avx2", all), Isa::avx2);
  EXPECT_EQ(choose_isa("generic", all), Isa::generic);
  EXPECT_EQ(choose_isa(nullptr, {Isa::generic, Isa::avx2}), Isa::avx2);
  // Where VDPBF16PS does not pay, the default is avx512; naming avx512bf16 still selects it.
  EXPECT_EQ(choose_isa(nullptr, all, false), Isa::avx512);
  EXPECT_EQ(choose_isa("avx512bf16", all, false), Isa::avx512bf16);
  EXPECT_EQ(choose_isa(nullptr, {Isa::generic, Isa::avx2}, false), Isa::avx2);
  const std::string lacking = message_of("avx512", {Isa::generic, Isa::avx2});
  EXPECT_NE(lacking.find("does not support"), std::string::npos) << lacking;
  EXPECT_NE(lacking.find("generic avx2"), std::string::npos) << lacking;
  const std::string unknown = message_of("sse9", all);
  EXPECT_NE(unknown.find("valid values are generic avx2 avx512 avx512bf16"), std::string::npos) << unknown;
  EXPECT_EQ(message_of("AVX2", all).empty(), false) << "names are lower case";
}

TEST(Isa, SupportedStartsWithGenericAndActiveIsSupported) {
  const std::vector<Isa> s = supported_isas();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.front(), Isa::generic);
  bool found = false;
  for (Isa isa : s) found = found || isa == active_isa();
  EXPECT_TRUE(found);
  EXPECT_EQ(active_kernels().isa, active_isa());
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(bf16_bits(1.0f), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even significand (1.0).
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8)), 1.0f);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
  EXPECT_EQ(round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 1.0f + std::ldexp(1.0f, -7));
  EXPECT_TRUE(std::isnan(round_to_bf16(std::nanf(""))));
  EXPECT_EQ(round_to_bf16(INFINITY), INFINITY);
}

struct Shape {
  int64_t M, N, K;
  bool ta, tb;
};
const std::vector<Shape> kShapes = {{1, 1, 1, false, false},    {7, 8, 13, false, false},  {64, 8, 64, true, false},
                                    {37, 17, 300, false, true}, {145, 33, 257, true, true}, {300, 47, 129, false, false},
                                    {13, 600, 77, true, false}, {200, 1100, 5, false, true}};

// C = op(A) op(B) by `fn`, plus float64 references on the values as given and rounded to bf16.
struct Product {
  std::vector<float> c;
  std::vector<double> exact, rounded, magnitude_exact, magnitude_rounded;
};
Product run_product(SgemmFn fn, const Shape& s, uint64_t seed) {
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  const std::vector<float> A = random_vector<float>(static_cast<size_t>(s.M * s.K), seed);
  const std::vector<float> B = random_vector<float>(static_cast<size_t>(s.K * s.N), seed + 1);
  Product p;
  p.c.assign(static_cast<size_t>(s.M * s.N), 0.5f);
  fn(s.M, s.N, s.K, A.data(), lda, s.ta, B.data(), ldb, s.tb, p.c.data(), s.N, false, nullptr);
  for (int64_t i = 0; i < s.M; ++i)
    for (int64_t j = 0; j < s.N; ++j) {
      double e = 0, r = 0, me = 0, mr = 0;
      for (int64_t k = 0; k < s.K; ++k) {
        const float a = s.ta ? A[k * lda + i] : A[i * lda + k], b = s.tb ? B[j * ldb + k] : B[k * ldb + j];
        e += double(a) * b;
        me += std::abs(double(a) * b);
        r += double(round_to_bf16(a)) * round_to_bf16(b);
        mr += std::abs(double(round_to_bf16(a)) * round_to_bf16(b));
      }
      p.exact.push_back(e), p.rounded.push_back(r), p.magnitude_exact.push_back(me), p.magnitude_rounded.push_back(mr);
    }
  return p;
}

TEST(IsaAgreement, SgemmOfEverySetMatchesFloat64WithinTheSumBound) {
  const double u = std::ldexp(1.0, -24);
  for (Isa isa : supported_isas()) {
    const KernelTable& t = kernel_table(isa);
    uint64_t seed = 10;
    for (const Shape& s : kShapes) {
      const std::string what = std::string(isa_name(isa)) + " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) +
                               " K=" + std::to_string(s.K);
      const Product f = run_product(t.sgemm, s, seed);
      const Product h = run_product(t.sgemm_bf16, s, seed);
      seed += 2;
      int bad = 0;
      for (size_t e = 0; e < f.c.size() && bad < 3; ++e) {
        const double bound = double(s.K + 2) * u * f.magnitude_exact[e];
        if (!(std::abs(f.c[e] - f.exact[e]) <= bound)) ++bad, ADD_FAILURE() << what << " f32 element " << e;
        // bf16: exact products of the rounded inputs, float32 sums.
        const double bound16 = double(s.K + 2) * u * h.magnitude_rounded[e];
        if (!(std::abs(h.c[e] - h.rounded[e]) <= bound16)) ++bad, ADD_FAILURE() << what << " bf16 element " << e;
      }
      // And bf16 really rounds: its error against the unrounded product is far above float32's.
      if (s.K >= 64) { EXPECT_GT(relative_max_error(h.c, f.exact), 1e-4) << what; }
    }
  }
}

// out, lse, dq, dk, dv of one forward and backward pass of `t`'s attention kernels.
struct AttentionInputs {
  std::vector<float> q, k, v, dout;
};
std::vector<std::vector<float>> run_attention(const KernelTable& t, const AttentionDims& d, const AttentionInputs& x) {
  const size_t n = static_cast<size_t>(d.L * d.ld), no = static_cast<size_t>(d.L * d.ld_out);
  std::vector<float> out(no), lse(static_cast<size_t>(d.L)), dq(n), dk(n), dv(n);
  std::vector<float> scratch(attention_forward_scratch_size(d.L, d.Dh) + attention_backward_scratch_size(d.L, d.Dh));
  t.attention_forward(d, 0.35f, x.q.data(), x.k.data(), x.v.data(), out.data(), lse.data(), scratch.data());
  t.attention_backward(d, 0.35f, x.q.data(), x.k.data(), x.v.data(), out.data(), lse.data(), x.dout.data(), dq.data(),
                       dk.data(), dv.data(), scratch.data());
  return {out, lse, dq, dk, dv};
}

const AttentionDims kAttentionShapes[] = {{130, 8, 24, 8, true, -1}, {77, 16, 16, 16, true, 9}, {65, 8, 8, 8, false, -1}};

AttentionInputs attention_inputs(const AttentionDims& d) {
  const size_t n = static_cast<size_t>(d.L * d.ld), no = static_cast<size_t>(d.L * d.ld_out);
  return {random_vector<float>(n, 1), random_vector<float>(n, 2), random_vector<float>(n, 3),
          random_vector<float>(no, 4)};
}

TEST(IsaAgreement, AttentionOfEverySetEqualsGenericWithin1e5) {
  for (const AttentionDims& d : kAttentionShapes) {
    const AttentionInputs x = attention_inputs(d);
    const auto ref = run_attention(kernel_table(Isa::generic), d, x);
    for (Isa isa : supported_isas()) {
      const auto got = run_attention(kernel_table(isa), d, x);
      for (size_t r = 0; r < ref.size(); ++r)
        EXPECT_LE(relative_max_error(got[r], ref[r]), 1e-5) << isa_name(isa) << " result " << r << " L=" << d.L;
    }
  }
}

// Both float32 kernels, the narrow-head one (Dh = 4, 8, 16: kernels/attention_narrow_heads.h) and the
// tiled one (other widths), of every set against the float64 kernel (attention_impl.h with Eigen's
// products) on the same inputs: sequences shorter than a vector, not a multiple of it or of a query chunk,
// causal, windowed and not. And each gradient alone equals the one computed with the others.
TEST(IsaAgreement, AttentionOfEverySetEqualsFloat64Within1e5) {
  const AttentionDims shapes[] = {{130, 8, 24, 8, true, -1}, {77, 16, 16, 16, true, 9}, {65, 8, 8, 8, false, -1},
                                  {3, 4, 4, 4, true, -1},     {200, 4, 12, 4, true, 70}, {150, 16, 48, 16, false, -1},
                                  {100, 12, 36, 12, true, 20}, {17, 8, 8, 8, true, 1}};
  for (const AttentionDims& d : shapes) {
    const AttentionInputs x = attention_inputs(d);
    auto wide = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
    const std::vector<double> q = wide(x.q), k = wide(x.k), v = wide(x.v), dout = wide(x.dout);
    const size_t n = static_cast<size_t>(d.L * d.ld), no = static_cast<size_t>(d.L * d.ld_out);
    std::vector<double> out(no), lse(static_cast<size_t>(d.L)), dq(n), dk(n), dv(n);
    std::vector<double> scratch(attention_forward_scratch_size(d.L, d.Dh) + attention_backward_scratch_size(d.L, d.Dh));
    attention_forward<double>(d, 0.35, q.data(), k.data(), v.data(), out.data(), lse.data(), scratch.data());
    attention_backward<double>(d, 0.35, q.data(), k.data(), v.data(), out.data(), lse.data(), dout.data(), dq.data(),
                               dk.data(), dv.data(), scratch.data());
    const std::vector<std::vector<double>> ref = {out, lse, dq, dk, dv};
    for (Isa isa : supported_isas()) {
      const KernelTable& t = kernel_table(isa);
      const auto got = run_attention(t, d, x);
      for (size_t r = 0; r < ref.size(); ++r)
        EXPECT_LE(relative_max_error(got[r], ref[r]), 1e-5) << isa_name(isa) << " result " << r << " L=" << d.L
                                                            << " Dh=" << d.Dh;
      std::vector<float> scratch32(scratch.size());
      for (int which = 0; which < 3; ++which) {
        std::vector<float> alone(n);
        float* g[3] = {nullptr, nullptr, nullptr};
        g[which] = alone.data();
        t.attention_backward(d, 0.35f, x.q.data(), x.k.data(), x.v.data(), got[0].data(), got[1].data(),
                             x.dout.data(), g[0], g[1], g[2], scratch32.data());
        EXPECT_EQ(alone, got[2 + which]) << isa_name(isa) << " gradient " << which << " alone, L=" << d.L;
      }
    }
  }
}

// The bf16 mode rounds q, k, v (and dout) once, up front: q, k, v already rounded give bit-identical
// results (dout also enters D = dout . out unrounded, so it is left as it is here). The results stay
// within bf16's precision of float32's, and differ from them.
TEST(IsaAgreement, Bf16AttentionRoundsItsInputsOnceAndStaysNearFloat32) {
  for (const AttentionDims& d : kAttentionShapes) {
    const AttentionInputs x = attention_inputs(d);
    AttentionInputs rounded = x;
    for (std::vector<float>* e : {&rounded.q, &rounded.k, &rounded.v})
      round_array_to_bf16(e->data(), e->data(), static_cast<int64_t>(e->size()));
    for (Isa isa : supported_isas()) {
      const KernelTable& t = kernel_table(isa);
      const auto f32 = run_attention(t, d, x);
      const PrecisionScope bf16(Precision::bf16);
      const auto raw = run_attention(t, d, x), pre = run_attention(t, d, rounded);
      for (size_t r = 0; r < raw.size(); ++r) {
        EXPECT_EQ(raw[r], pre[r]) << isa_name(isa) << " result " << r << " L=" << d.L;
        const double error = relative_max_error(raw[r], f32[r]);
        EXPECT_LE(error, 3e-2) << isa_name(isa) << " result " << r << " L=" << d.L;
        if (r != 1) { EXPECT_GT(error, 1e-5) << isa_name(isa) << " result " << r << " L=" << d.L; }
      }
    }
  }
}

// A bias added as each tile of the product is stored (the Linear op's forward) equals filling C with the
// bias and accumulating the product into it, bit for bit, on every set and in both precisions: full and
// edge tiles, narrow products (N < 16), several depth and column blocks (K > 256, N > 1024), and K = 0.
TEST(IsaAgreement, SgemmWithBiasEqualsBiasFilledAccumulateBitForBit) {
  std::vector<Shape> shapes = kShapes;
  shapes.push_back({5, 40, 0, false, false});
  for (Isa isa : supported_isas()) {
    const KernelTable& t = kernel_table(isa);
    for (const bool bf16 : {false, true}) {
      const SgemmFn fn = bf16 ? t.sgemm_bf16 : t.sgemm;
      uint64_t seed = 60;
      for (const Shape& s : shapes) {
        const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
        const std::vector<float> A = random_vector<float>(static_cast<size_t>(s.M * s.K), seed);
        const std::vector<float> B = random_vector<float>(static_cast<size_t>(s.K * s.N), seed + 1);
        const std::vector<float> bias = random_vector<float>(static_cast<size_t>(s.N), seed + 2);
        seed += 3;
        std::vector<float> fused(static_cast<size_t>(s.M * s.N), -7.0f), filled;
        for (int64_t i = 0; i < s.M; ++i) filled.insert(filled.end(), bias.begin(), bias.end());
        fn(s.M, s.N, s.K, A.data(), lda, s.ta, B.data(), ldb, s.tb, fused.data(), s.N, false, bias.data());
        fn(s.M, s.N, s.K, A.data(), lda, s.ta, B.data(), ldb, s.tb, filled.data(), s.N, true, nullptr);
        EXPECT_EQ(fused, filled) << isa_name(isa) << (bf16 ? " bf16" : " f32") << " M=" << s.M << " N=" << s.N
                                 << " K=" << s.K;
      }
    }
  }
}

// avx512bf16 differs from avx512 in the bf16 products only, so that the start-up measurement choosing
// between them (kernels/isa.h) cannot change a float32 result.
TEST(IsaAgreement, Avx512Bf16EqualsAvx512BitForBitInFloat32) {
  const std::vector<Isa> supported = supported_isas();
  if (supported.back() != Isa::avx512bf16) GTEST_SKIP() << "this CPU lacks avx512bf16";
  const KernelTable &a = kernel_table(Isa::avx512), &b = kernel_table(Isa::avx512bf16);
  uint64_t seed = 40;
  for (const Shape& s : kShapes) {
    EXPECT_EQ(run_product(a.sgemm, s, seed).c, run_product(b.sgemm, s, seed).c) << "M=" << s.M << " N=" << s.N;
    ++seed;
  }
  for (const AttentionDims& d : kAttentionShapes) {
    const AttentionInputs x = attention_inputs(d);
    EXPECT_EQ(run_attention(a, d, x), run_attention(b, d, x)) << "L=" << d.L;
  }
}

TEST(IsaAgreement, ElementwiseOfEverySetEqualsGenericWithin1e5) {
  const KernelTable& g = kernel_table(Isa::generic);
  const int64_t n = 1000;
  std::vector<float> x = random_vector<float>(n, 7), b = random_vector<float>(n, 8), grad = random_vector<float>(n, 9);
  for (float& e : x) e = 4 * e + 0.01f;  // [-4, 4), away from 0 for log, sqrt, pow
  std::vector<float> xpos(x);
  for (float& e : xpos) e = std::abs(e) + 0.1f;
  for (Isa isa : supported_isas()) {
    const KernelTable& t = kernel_table(isa);
    for (int f = 0; f < kUnaryFnCount; ++f) {
      const std::vector<float>& in = (f == int(UnaryFn::log) || f == int(UnaryFn::sqrt) || f == int(UnaryFn::rsqrt) ||
                                      f == int(UnaryFn::pow))
                                         ? xpos
                                         : x;
      std::vector<float> y0(n), y1(n), gx0(n, 0.25f), gx1(n, 0.25f);
      g.unary_forward[f](in.data(), y0.data(), n, 1.5);
      t.unary_forward[f](in.data(), y1.data(), n, 1.5);
      g.unary_backward[f](in.data(), y0.data(), grad.data(), gx0.data(), n, 1.5);
      t.unary_backward[f](in.data(), y0.data(), grad.data(), gx1.data(), n, 1.5);
      EXPECT_LE(relative_max_error(y1, y0), 1e-5) << isa_name(isa) << " unary " << f;
      EXPECT_LE(relative_max_error(gx1, gx0), 1e-5) << isa_name(isa) << " unary backward " << f;
    }
    std::vector<float> y0(n), y1(n), ga0(n, 0.5f), ga1(n, 0.5f), gb0(n, 0.5f), gb1(n, 0.5f);
    g.swiglu_forward(x.data(), b.data(), y0.data(), n);
    t.swiglu_forward(x.data(), b.data(), y1.data(), n);
    g.swiglu_grad_a(x.data(), b.data(), grad.data(), ga0.data(), n);
    t.swiglu_grad_a(x.data(), b.data(), grad.data(), ga1.data(), n);
    g.swiglu_grad_b(x.data(), grad.data(), gb0.data(), n);
    t.swiglu_grad_b(x.data(), grad.data(), gb1.data(), n);
    EXPECT_LE(relative_max_error(y1, y0), 1e-5) << isa_name(isa);
    EXPECT_LE(relative_max_error(ga1, ga0), 1e-5) << isa_name(isa);
    EXPECT_LE(relative_max_error(gb1, gb0), 1e-5) << isa_name(isa);
  }
}

}  // namespace
}  // namespace mad::kernels
