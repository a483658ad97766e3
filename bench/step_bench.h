// Timing of full training steps (forward, cross-entropy, backward, AdamW) of MAD models at the protocol's
// shapes: the library behind `mad bench` (apps/cmd_bench.cpp).
//
// A step is exactly the trainer's (training/trainer.cpp): tape reset, zero_grad, Model::logits,
// cross_entropy over every position, backward, AdamW step, with a models::Model built from the same
// architecture spec `mad train` builds. Only the batch differs: random tokens instead of task data (the
// values of the tokens do not change the work done).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/op_profile.h"
#include "models/registry.h"

namespace mad::bench {

struct Workload {
  std::string name;                 // e.g. "icr-128", "icr-128/swiglu"
  std::vector<std::string> layers;  // layer names, as for `mad train --layers`
  int64_t batch = 128;
  int64_t length = 127;  // tokens per sequence the model sees (in-context recall: seq_len - 1)
  int64_t vocab = 16;
  int64_t dim = 128;
  std::string arch_file;  // instead of `layers`: an architecture spec file, as for `mad train --arch`
  int64_t tokens() const { return batch * length; }
};

// The MAD transformer (mh-attention swiglu mh-attention swiglu) at batch 128, width 128 on in-context
// recall at seq_len 128, 512, 1024 ("icr-128", ...) and selective copying at 256 ("sc-256"), each followed
// by every layer of `registry` alone in the same backbone ("icr-128/mh-attention", "icr-128/swiglu",
// "icr-128/hyena", ...), in registry order: a newly registered layer is covered without a change here.
std::vector<Workload> canonical_workloads(const models::LayerRegistry& registry = models::builtin_layers());

// Analytic floating-point operations of one training step, counting a multiply-add as 2:
//   every Linear weight [out, in] (all 2-D parameters but the token embedding): 2 * tokens * out * in
//   forward, twice that backward (input and weight gradients), so 6 * tokens * out * in;
//   sequence mixing (the registry's LayerEntry::mixing_flops, forward per token) 3x per token: forward and
//   a backward of twice its cost. For causal attention that is per head and visible (query, key) pair
//   4 * Dh forward (q.k and p v) and 8 * Dh backward (dv, dp, dq, dk; the recomputed scores of the flash
//   backward are not counted). Layers without a mixing_flops entry count their weight products only.
// Norms, activations, softmax, the optimizer and the embedding are not counted (O(tokens * width)).
double step_flops(const Workload& w);

// The workload `base` (a shape: its batch and length) with the architecture of `arch_file` instead of its
// layers, named "<base>/@<file stem>" (e.g. "icr-128/@mlstm-block-wired"): `mad bench --arch FILE`.
Workload arch_workload(const Workload& base, const std::string& arch_file);

struct StepTiming {
  std::vector<double> step_ms;   // every timed step
  double median_ms = 0;
  // CPU time per step (median): of the whole process, and of the calling thread alone. On a machine busy
  // with other work these are much steadier than wall time. With one thread, the CPU time is about the
  // step time on a quiet machine; with several, the calling thread's CPU time (its share of every split
  // loop plus everything that runs serially) is about the quiet machine's step time when the split is
  // balanced, so cpu_ms(1 thread) / main_thread_cpu_ms(N threads) estimates the quiet speed-up.
  double median_cpu_ms = 0;
  double median_main_thread_cpu_ms = 0;
  double optimizer_mean_ms = 0;  // the AdamW part of the step
  double flops = 0;              // step_flops
  size_t arena_bytes = 0;        // the tape's arena high-water mark
  int64_t params = 0;
};

// Runs `warmup` untimed steps (the arena reaches its size) then `steps` timed ones on num_threads()
// threads. With a profile, op times of the timed steps are added to it.
StepTiming time_steps(const Workload& w, int steps, int warmup, OpProfile* profile = nullptr);

// GFLOP/s of the matmul op on [16256, 128] x [128, 512] (the MAD swiglu up-projection) on num_threads()
// threads, the best of several runs: the machine's measured matrix-multiply peak with our kernels.
double measure_gemm_peak_gflops();

// The process's peak resident set size so far (getrusage), in MiB.
double peak_rss_mb();

}  // namespace mad::bench
