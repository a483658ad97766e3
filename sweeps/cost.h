// What runs cost in CPU seconds (process CPU time, as runs.cpu_seconds records it): per run, one epoch
// (training steps over the train set and an evaluation of the test set) and the final evaluation of the
// train set; per sweep, the sum over its runs under a search (sweeps/halving.h), at most: every run that
// the search trains on is assumed to train all its epochs (early stopping only shortens runs).
//
// Three sources for the price of a training step:
//   from FLOPs   the plan's FLOP count at the throughput measured on this project's machine (about
//                50 GFLOP/s per thread for the MAD transformer, docs/performance.md);
//   calibrated   real training steps and evaluation batches of each architecture at each task shape
//                (backbone, vocabulary, length, batch) of the plan, timed on this machine (`mad sweep plan
//                --calibrate SECONDS`);
//   measured     the CPU seconds per FLOP of a sweep's runs so far (`mad sweep status`).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "sweeps/halving.h"
#include "sweeps/sweep_plan.h"

namespace mad::sweeps {

// The CPU seconds of one step at one shape: a training step (forward, backward, AdamW) and a forward
// pass over an evaluation batch, both of `batch_size` sequences.
struct ShapeTiming {
  double step = 0, eval = 0;
};

struct Calibration {
  std::map<std::string, ShapeTiming> shapes;  // by calibration_shape
  int64_t steps = 0;                           // training steps timed (warm-up steps not counted)
  double seconds = 0;                          // CPU seconds the calibration took
};

// The shape a run's cost depends on: its architecture, backbone, vocabulary, input length and batch size.
std::string calibration_shape(const PlannedRun& run);

// Times training steps and evaluation batches at every shape of `runs`, spreading `budget_seconds` of CPU
// time over the shapes; each shape gets a warm-up step and at least one timed step, so a budget too
// small for that is exceeded. Uses the calling thread plus the pool (set_num_threads beforehand).
Calibration calibrate(const SweepSpec& spec, std::span<const PlannedRun> runs, double budget_seconds);

struct RunCost {
  double epoch = 0;       // CPU seconds of one epoch
  double final_eval = 0;  // of the train set's evaluation at the end of the run
};

class CostModel {
 public:
  // From the plan's FLOPs at `threads` threads per run (the wall-time estimate times the threads).
  static CostModel from_flops(int threads);
  // From CPU seconds per FLOP measured on runs.
  static CostModel per_flop(double cpu_seconds_per_flop);
  static CostModel calibrated(Calibration calibration);

  RunCost cost(const PlannedRun& run) const;
  bool is_calibrated() const { return calibrated_; }

 private:
  double seconds_per_flop_ = 0;
  bool calibrated_ = false;
  Calibration calibration_;
};

// CPU seconds the runs (whole brackets) take under `search`, at most.
double planned_cpu_seconds(std::span<const PlannedRun> runs, const Search& search, int64_t epochs, const CostModel& model);

// CPU seconds a bracket still takes under `search`, given its runs' progress (in the order of `runs`).
double remaining_cpu_seconds(std::span<const PlannedRun> runs, std::span<const BracketRun> progress,
                             const Search& search, int64_t epochs, const CostModel& model);

}  // namespace mad::sweeps
