#include "bench/step_bench.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "core/ops.h"
#include "core/rng.h"
#include "models/backbone.h"
#include "training/adamw.h"
#include "training/metrics.h"

namespace mad::bench {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// CPU time of the process (every thread) or of the calling thread, in ms.
double cpu_ms(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return 1e3 * static_cast<double>(ts.tv_sec) + 1e-6 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The model `mad train` builds for this architecture and shape (a language-model backbone).
std::unique_ptr<models::Model> build_model(const Workload& w) {
  const models::ArchSpec spec =
      w.arch_file.empty() ? models::arch_from_names(w.layers, w.dim) : models::arch_from_file(w.arch_file);
  auto model = std::make_unique<models::Model>(spec, models::BackboneKind::language_model, w.vocab, w.length);
  model->initialize(12345);
  return model;
}

}  // namespace

std::vector<Workload> canonical_workloads(const models::LayerRegistry& registry) {
  const std::vector<std::string> transformer = {"mh-attention", "swiglu", "mh-attention", "swiglu"};
  struct Setting {
    std::string name;
    int64_t length;
  };
  // In-context recall's model sees seq_len - 1 tokens; selective copying's sees seq_len (tasks/settings.cpp).
  const Setting settings[] = {{"icr-128", 127}, {"icr-512", 511}, {"icr-1024", 1023}, {"sc-256", 256}};
  std::vector<Workload> out;
  for (const Setting& s : settings) {
    out.push_back({s.name, transformer, 128, s.length, 16, 128, {}});
    // Every registered layer alone, so a layer added to the registry is benchmarked without a change here.
    for (const std::string& layer : registry.layer_names())
      out.push_back({s.name + "/" + layer, {layer}, 128, s.length, 16, 128, {}});
  }
  return out;
}

Workload arch_workload(const Workload& base, const std::string& arch_file) {
  Workload w = base;
  const std::string shape = base.name.substr(0, base.name.find('/'));
  w.name = shape + "/@" + std::filesystem::path(arch_file).stem().string();
  w.layers.clear();
  w.arch_file = arch_file;
  w.dim = models::arch_from_file(arch_file).dim;
  return w;
}

double step_flops(const Workload& w) {
  const std::unique_ptr<models::Model> model = build_model(w);  // parameter shapes only; cheap next to a step
  const double tokens = static_cast<double>(w.tokens());
  double flops = 0;
  for (const ParamStore::Entry& e : model->params().entries())
    if (e.shape.rank() == 2 && e.name != "token_embeds.weight")
      flops += 6 * tokens * static_cast<double>(e.shape[0] * e.shape[1]);
  // Sequence mixing beyond the weight products, from the registry (LayerEntry::mixing_flops, forward per
  // token): backward costs twice the forward, so 3x per step.
  models::BuildContext ctx;
  ctx.dim = model->spec().dim;
  ctx.seq_len = model->seq_len();
  for (const models::LayerSpec& layer : model->spec().layers) {
    const models::LayerEntry& entry = model->registry().find(layer.type);
    if (entry.mixing_flops != nullptr) flops += 3 * tokens * entry.mixing_flops(layer.config, ctx);
  }
  return flops;
}

StepTiming time_steps(const Workload& w, int steps, int warmup, OpProfile* profile) {
  const std::unique_ptr<models::Model> owned = build_model(w);
  models::Model& model = *owned;
  AdamW optimizer(model.params(), {.lr = 1e-3});
  // Random tokens and targets: the work of a step does not depend on their values.
  Rng rng(7);
  const Tensor tokens = Tensor::zeros({w.batch, w.length}, DType::I32);
  const Tensor targets = Tensor::zeros({w.tokens()}, DType::I32);
  for (int32_t& t : tokens.span<int32_t>()) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(w.vocab)));
  for (int32_t& t : targets.span<int32_t>()) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(w.vocab)));

  StepTiming timing;
  timing.flops = step_flops(w);
  timing.params = model.params().num_params();
  std::vector<double> optimizer_ms, process_ms, thread_ms;
  Tape tape;
  tape.set_free_in_backward(true);  // as the trainer does
  for (int s = 0; s < warmup + steps; ++s) {
    const bool timed = s >= warmup;
    tape.set_profile(timed ? profile : nullptr);
    const auto start = Clock::now();
    const double process_start = cpu_ms(CLOCK_PROCESS_CPUTIME_ID), thread_start = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
    // The trainer's step (training/trainer.cpp).
    tape.reset();
    model.params().zero_grad();
    Var logits = model.logits(tape, tokens);
    Var loss = cross_entropy(reshape(logits, {w.tokens(), logits.dim(-1)}), targets, kIgnoreIndex);
    tape.backward(loss);
    const auto optimizer_start = Clock::now();
    optimizer.step(1e-3);
    if (!timed) continue;
    optimizer_ms.push_back(ms_since(optimizer_start));
    timing.step_ms.push_back(ms_since(start));
    process_ms.push_back(cpu_ms(CLOCK_PROCESS_CPUTIME_ID) - process_start);
    thread_ms.push_back(cpu_ms(CLOCK_THREAD_CPUTIME_ID) - thread_start);
  }
  tape.set_profile(nullptr);
  timing.median_ms = median(timing.step_ms);
  timing.median_cpu_ms = median(process_ms);
  timing.median_main_thread_cpu_ms = median(thread_ms);
  for (double ms : optimizer_ms) timing.optimizer_mean_ms += ms / static_cast<double>(optimizer_ms.size());
  timing.arena_bytes = tape.arena().high_water();
  return timing;
}

double measure_gemm_peak_gflops() {
  const int64_t M = 16256, K = 128, N = 512;
  Rng rng(3);
  Tensor a = Tensor::zeros({M, K}, DType::F32), b = Tensor::zeros({K, N}, DType::F32);
  for (float& x : a.span<float>()) x = static_cast<float>(rng.uniform() - 0.5);
  for (float& x : b.span<float>()) x = static_cast<float>(rng.uniform() - 0.5);
  Tape tape;
  double best_ms = 1e300;
  for (int round = 0; round < 8; ++round) {
    tape.reset();
    const auto start = Clock::now();
    matmul(tape.constant(a), tape.constant(b));
    if (round > 0) best_ms = std::min(best_ms, ms_since(start));  // round 0 grows the arena
  }
  return 2.0 * M * N * K / (best_ms * 1e6);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace mad::bench
