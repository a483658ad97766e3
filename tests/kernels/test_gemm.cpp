// kernels::gemm (float32: the packed SGEMM of kernels/sgemm.h; float64: Eigen) against a naive triple loop
// accumulated in float64, over many shapes (1..300, primes, K = 0 and 1, edges of every register tile and
// cache block), the four transpose combinations, strided sub-blocks of larger matrices and the accumulate
// flag.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/gemm.h"
#include "kernels/sgemm.h"

namespace mad::kernels {
namespace {

using testing::random_vector;

struct Case {
  int64_t M, N, K;
  bool ta, tb;
  int64_t pad;  // extra elements per row of every operand: a sub-block of a wider matrix
  bool accumulate;
  std::string str() const {
    return "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) + " ta=" +
           std::to_string(ta) + " tb=" + std::to_string(tb) + " pad=" + std::to_string(pad) +
           " accumulate=" + std::to_string(accumulate);
  }
};

// Runs one case in precision T and checks every element of C, including that the padding of C's rows
// (outside the product) is untouched. Error bound: the float64 reference r = c0 + sum_k a_ik b_kj and
// |c - r| <= (K + 2) u (|c0| + sum_k |a_ik b_kj|), the worst-case bound of a K-term sum in unit roundoff u.
template <typename T>
void check(const Case& c, uint64_t seed) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
  const std::vector<T> A = random_vector<T>(static_cast<size_t>(std::max<int64_t>(1, a_rows * lda)), seed);
  const std::vector<T> B = random_vector<T>(static_cast<size_t>(std::max<int64_t>(1, b_rows * ldb)), seed + 1);
  const std::vector<T> C0 = random_vector<T>(static_cast<size_t>(std::max<int64_t>(1, c.M * ldc)), seed + 2);
  std::vector<T> C = C0;
  gemm<T>(c.M, c.N, c.K, A.data(), lda, c.ta, B.data(), ldb, c.tb, C.data(), ldc, c.accumulate);

  const double u = std::is_same_v<T, float> ? std::ldexp(1.0, -24) : std::ldexp(1.0, -53);
  auto a = [&](int64_t i, int64_t k) { return static_cast<double>(c.ta ? A[k * lda + i] : A[i * lda + k]); };
  auto b = [&](int64_t k, int64_t j) { return static_cast<double>(c.tb ? B[j * ldb + k] : B[k * ldb + j]); };
  int failures = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= c.N) {
        ASSERT_EQ(C[at], C0[at]) << "padding of C changed at (" << i << ", " << j << ") for " << c.str();
        continue;
      }
      double ref = c.accumulate ? static_cast<double>(C0[at]) : 0.0;
      double magnitude = std::abs(ref);
      for (int64_t k = 0; k < c.K; ++k) {
        ref += a(i, k) * b(k, j);
        magnitude += std::abs(a(i, k) * b(k, j));
      }
      const double err = std::abs(static_cast<double>(C[at]) - ref);
      if (!(err <= static_cast<double>(c.K + 2) * u * magnitude) && ++failures <= 3)
        ADD_FAILURE() << c.str() << ": C(" << i << ", " << j << ") = " << C[at] << ", reference " << ref;
    }
  }
}

// Sizes around the 6 x 16 register tile and the 144 / 256 / 1024 cache blocks, primes and 1..300.
const std::vector<int64_t> kSizes = {1, 2, 5, 6, 7, 13, 16, 17, 31, 47, 97, 127, 144, 145, 257, 300};

TEST(Gemm, FloatMatchesNaiveLoopOverShapesAndTransposes) {
  uint64_t seed = 1;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t M : {1, 6, 7, 31, 145, 300})
        for (int64_t N : {1, 16, 17, 47, 257})
          for (int64_t K : {0, 1, 2, 13, 127, 257, 300}) {
            check<float>({M, N, K, ta, tb, 0, false}, seed++);
            if (HasFatalFailure()) return;
          }
}

TEST(Gemm, FloatAllSmallSizes) {
  uint64_t seed = 1000;
  for (int64_t M : kSizes)
    for (int64_t N : kSizes) {
      const int64_t K = kSizes[static_cast<size_t>((M + N) % static_cast<int64_t>(kSizes.size()))];
      check<float>({M, N, K, (M + N) % 2 == 1, (M * N) % 3 == 0, 0, false}, seed++);
      if (HasFatalFailure()) return;
    }
}

TEST(Gemm, FloatStridedSubBlocksAndAccumulate) {
  uint64_t seed = 2000;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool accumulate : {false, true})
        for (int64_t pad : {1, 5, 16})
          for (const auto& [M, N, K] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
                   {1, 1, 1}, {6, 16, 0}, {7, 17, 1}, {61, 83, 29}, {150, 40, 270}, {13, 300, 7}}) {
            check<float>({M, N, K, ta, tb, pad, accumulate}, seed++);
            if (HasFatalFailure()) return;
          }
}

// Depths beyond one Kc block and widths beyond one Nc block take the multi-block paths.
TEST(Gemm, FloatSeveralCacheBlocks) {
  check<float>({37, kSgemmNc + 21, 2 * kSgemmKc + 3, false, true, 3, true}, 3000);
  check<float>({2 * kSgemmMc + 5, 40, 3 * kSgemmKc, true, false, 0, false}, 3001);
}

TEST(Gemm, DoubleMatchesNaiveLoop) {
  uint64_t seed = 4000;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (bool accumulate : {false, true})
        for (int64_t M : {1, 7, 40})
          for (int64_t K : {0, 1, 33}) check<double>({M, 19, K, ta, tb, 2, accumulate}, seed++);
}

// Splitting C into row blocks (what the matmul op does across threads) gives bit-identical results.
TEST(Gemm, RowBlocksGiveIdenticalBits) {
  const int64_t M = 157, N = 91, K = 300;
  const std::vector<float> A = random_vector<float>(M * K, 1), B = random_vector<float>(K * N, 2);
  std::vector<float> whole(M * N), split(M * N);
  sgemm(M, N, K, A.data(), K, false, B.data(), N, false, whole.data(), N, false);
  for (int64_t m0 : {int64_t(0), int64_t(50), int64_t(101)}) {
    const int64_t m1 = m0 == 101 ? M : m0 + (m0 == 0 ? 50 : 51);
    sgemm(m1 - m0, N, K, A.data() + m0 * K, K, false, B.data(), N, false, split.data() + m0 * N, N, false);
  }
  EXPECT_EQ(whole, split);
}

}  // namespace
}  // namespace mad::kernels
