// The MAD training loop with the reference's semantics (mad-protocol.md sections 3 and 4):
// AdamW on every parameter, batch 128, train order reshuffled every epoch from the seed, cosine learning
// rate stepped per epoch, the test set evaluated after every epoch, early stop once test MAD accuracy
// exceeds 0.999, and the reported metrics taken from the epoch with the lowest test perplexity (train
// metrics re-evaluated on the whole train set with that epoch's weights, as the reference does when it
// reloads its best checkpoint). A loss that becomes NaN or Inf, or a test perplexity that becomes Inf, stops
// the run at once: status "diverged", and the reported train and test metrics are NaN (no result).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/module.h"
#include "kernels/precision.h"
#include "training/adamw.h"
#include "training/metrics.h"

namespace mad {

struct TrainConfig {
  int64_t epochs = 200;          // the length of the cosine schedule and the most epochs run
  int64_t stop_after_epoch = 0;  // > 0: stop after this epoch, still on the `epochs`-long schedule
  int64_t batch_size = 128;
  double lr = 5e-4;
  double min_lr = 1e-6;
  double weight_decay = 0.0;
  WeightDecayGroups weight_decay_groups = WeightDecayGroups::all;  // which parameters decay (adamw.h)
  uint64_t seed = 12345;        // shuffling (the model's initialisation is seeded by its caller)
  double stop_accuracy = 0.999;  // early stop when test MAD accuracy exceeds this
  // f32, or bf16: matrix products with bf16 inputs and float32 accumulation (kernels/precision.h); set
  // for the duration of run() and evaluate().
  kernels::Precision precision = kernels::Precision::f32;
};

// Token matrices [N, L] int32; targets use -100 for positions without loss.
struct TrainData {
  Tensor train_inputs, train_targets, test_inputs, test_targets;
};

struct EpochResult {
  int64_t epoch = 0;  // 1-based
  double lr = 0;
  SplitMetrics train;  // running means over the epoch's training steps
  SplitMetrics test;
  double seconds = 0;  // wall time of the epoch, evaluation included
};

struct TrainResult {
  std::string status = "completed";  // completed | diverged
  std::vector<EpochResult> epochs;
  int64_t best_epoch = 0;  // 1-based; 0 if no epoch finished
  SplitMetrics train;      // whole train set, best epoch's weights; NaN when diverged
  SplitMetrics test;       // test set, best epoch; NaN when diverged
  double seconds = 0;
  std::string message;     // why a run diverged
};

// What a running training reports (progress lines, checkpoints).
class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void on_step(int64_t /*epoch*/, int64_t /*step*/, int64_t /*steps_per_epoch*/, double /*loss*/, double /*lr*/) {}
  virtual void on_epoch(const EpochResult& /*epoch*/, const TrainResult& /*so_far*/) {}
};

// State that lets a run continue where it stopped (see training/checkpoint.h).
struct TrainState {
  int64_t epochs_done = 0;
  int64_t optimizer_steps = 0;
  std::vector<EpochResult> history;
  Tensor best_values;  // parameter values of the best epoch so far (undefined before the first epoch)
};

class Trainer {
 public:
  Trainer(Module& model, const TrainData& data, const TrainConfig& config);

  // Continues from `state` (a fresh one starts at epoch 1). The model's parameters and the optimizer's
  // moments must already hold the state's values.
  TrainResult run(TrainObserver* observer = nullptr);
  // Evaluates the model on inputs/targets without recording gradients.
  SplitMetrics evaluate(const Tensor& inputs, const Tensor& targets);

  TrainState& state() { return state_; }
  AdamW& optimizer() { return optimizer_; }

 private:
  // Estimates one training step's activation memory from steps on one and two sequences and stops with the
  // budget's one-line error when the full batch would exceed it.
  void check_step_memory();
  void check_data() const;

  Module& model_;
  const TrainData& data_;
  TrainConfig config_;
  AdamW optimizer_;
  TrainState state_;
  Tape tape_;
  std::vector<int64_t> counters_;
};

}  // namespace mad
