// A wired layer's training step against the C++ layer it is written after: forward and backward of the
// language model on the in-context-recall shape (B 32, L 127, D 128, V 16), float32, one thread. Prints the
// median ms per step of each and their ratio (figures only; never a timed assert).
// Usage: bench_wired [steps]   (run from the repository root: it reads configs/architectures/*-wired.yml)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "config/yaml.h"
#include "models/backbone.h"

using namespace mad;

double median_step_ms(const models::ArchSpec& spec, int steps) {
  constexpr int64_t B = 32, T = 127, V = 16;
  models::Model model(spec, models::BackboneKind::language_model, V, T);
  model.initialize(1);
  Tensor tokens = Tensor::zeros({B, T}, DType::I32), targets = Tensor::zeros({B, T}, DType::I32);
  for (int64_t i = 0; i < B * T; ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>((i * 7 + 1) % V);
    targets.data<int32_t>()[i] = static_cast<int32_t>((i * 5 + 3) % V);
  }
  Tape tape;
  std::vector<double> ms;
  for (int s = 0; s < steps + 2; ++s) {  // two warm-up steps grow the arena
    const auto t0 = std::chrono::steady_clock::now();
    model.params().zero_grad();
    Var loss = cross_entropy(model.logits(tape, tokens), targets);
    tape.backward(loss);
    tape.reset();
    const auto t1 = std::chrono::steady_clock::now();
    if (s >= 2) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 10;
  const struct {
    const char* wired;
    const char* reference;
  } pairs[] = {{"configs/architectures/mlstm-preup-wired.yml", "layers: [mlstm-preup-block]"},
               {"configs/architectures/mlstm-block-wired.yml", "layers: [mlstm-block, swiglu]"},
               {"configs/architectures/lfm2-decoder-wired.yml", "layers: [conv, swiglu]"}};
  for (const auto& p : pairs) {
    const double ref = median_step_ms(models::arch_from_config(config::load_string(p.reference)), steps);
    const double wired = median_step_ms(models::arch_from_file(p.wired), steps);
    std::printf("%-48s C++ %8.2f ms/step  wired %8.2f ms/step  ratio %.3f\n", p.wired, ref, wired, wired / ref);
  }
}
