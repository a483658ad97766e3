// Timing one op (or a small graph of ops) forward and forward + backward on a tape: the fastest of repeated
// calls, and the step arena's high-water mark. Shared by the per-op benchmarks (bench_attention,
// bench_xlstm, bench_selective_scan).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/tape.h"

namespace mad::bench {

struct Timing {
  double forward_ms = 1e300, forward_backward_ms = 1e300;
  size_t high_water = 0;  // bytes
};

// Fastest of repeated calls (at least 3 and min_seconds); round 0 grows the arena and is not measured.
// `op` maps the inputs' leaves to the output; `cot` is the output's cotangent.
inline Timing measure(const std::vector<Tensor>& inputs, const Tensor& cot,
                      const std::function<Var(std::vector<Var>&)>& op, double min_seconds) {
  using clock = std::chrono::steady_clock;
  Tape tape;
  Timing t;
  for (bool backward : {false, true}) {
    double total = 0;
    for (int round = 0; round < 4 || total < min_seconds; ++round) {
      tape.reset();
      const auto start = clock::now();
      std::vector<Var> vars;
      for (const Tensor& x : inputs) vars.push_back(tape.leaf(x, true));
      Var y = op(vars);
      if (backward) tape.backward(y, cot);
      const double seconds = std::chrono::duration<double>(clock::now() - start).count();
      double& best = backward ? t.forward_backward_ms : t.forward_ms;
      if (round > 0) best = std::min(best, 1e3 * seconds);
      total += seconds;
    }
    t.high_water = std::max(t.high_water, tape.arena().high_water());
  }
  return t;
}

// One row: name, forward ms, forward + backward ms, arena MiB.
inline void print(const char* what, const Timing& t) {
  std::printf("%-28s | %10.1f %10.1f %9.1f\n", what, t.forward_ms, t.forward_backward_ms, t.high_water / 1048576.0);
}

}  // namespace mad::bench
