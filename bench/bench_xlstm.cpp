// Benchmark: the xLSTM cells at a MAD training shape (batch 128, T = 127, the in-context-recall baseline),
// float32, one thread: the `mlstm` op of mlstm-block (4 heads, d_k 16, d_v 32) through each kernel and chunk
// size, and the `slstm` op (4 heads of 32 units). Prints forward and forward+backward milliseconds (fastest
// call) and the arena high-water mark. It never asserts on timings.
//
// Usage: bench_xlstm [min_seconds_per_measurement=1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

#include <string>

#include "kernels/isa.h"
#include "bench/op_timing.h"
#include "core/ops_xlstm.h"
#include "core/parallel.h"

namespace {

using namespace mad;
using bench::measure;
using bench::print;

Tensor random_tensor(const Shape& shape, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  Tensor t = Tensor::zeros(shape, DType::F32);
  for (float& x : t.span<float>()) x = scale * normal(rng);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const double min_seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  set_num_threads(1);
  const int64_t B = 128, T = 127, H = 4, Dk = 16, Dv = 32, D = 128;
  std::printf("bench_xlstm: float32, 1 thread, isa=%s, B=%lld T=%lld (milliseconds, fastest call)\n", std::string(mad::kernels::isa_name(mad::kernels::active_isa())).c_str(),
              static_cast<long long>(B), static_cast<long long>(T));
  std::printf("%-28s | %10s %10s %9s\n", "op", "fwd", "fwd+bwd", "MiB");
  const std::vector<Tensor> m_in = {random_tensor({B, T, H, Dk}, 1), random_tensor({B, T, H, Dk}, 2),
                                    random_tensor({B, T, H, Dv}, 3), random_tensor({B, T, H}, 4, 3.0f),
                                    random_tensor({B, T, H}, 5, 2.0f)};
  const Tensor m_cot = random_tensor({B, T, H, Dv}, 6);
  struct Variant {
    const char* name;
    MlstmKernel kernel;
    int64_t chunk;
  };
  const Variant variants[] = {{"mlstm parallel", MlstmKernel::parallel, 0},
                              {"mlstm chunkwise 16", MlstmKernel::chunkwise, 16},
                              {"mlstm chunkwise 32", MlstmKernel::chunkwise, 32},
                              {"mlstm chunkwise 64", MlstmKernel::chunkwise, 64},
                              {"mlstm recurrent", MlstmKernel::recurrent, 0}};
  for (const Variant& v : variants)
    print(v.name, measure(m_in, m_cot, [&](std::vector<Var>& x) {
            return mlstm(x[0], x[1], x[2], x[3], x[4], v.kernel, v.chunk);
          }, min_seconds));
  const std::vector<Tensor> s_in = {random_tensor({B, T, 4 * D}, 7), random_tensor({H, D / H, 4 * D / H}, 8, 0.1f),
                                    random_tensor({4 * D}, 9, 0.5f)};
  print("slstm", measure(s_in, random_tensor({B, T, D}, 10), [](std::vector<Var>& x) {
          return slstm(x[0], x[1], x[2]);
        }, min_seconds));
  return 0;
}
