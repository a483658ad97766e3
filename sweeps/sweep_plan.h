// A sweep expanded into training runs, each with its deterministic key (results/run_key.h), and the
// slice of them one machine runs (--shard i/N).
//
// Order: task settings in spec order (task by task), then seed, lr, weight decay, and architecture
// innermost, so that a partial sweep already compares the architectures on the same settings.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "models/describe.h"
#include "results/record.h"
#include "sweeps/sweep_spec.h"

namespace mad::sweeps {

struct PlannedRun {
  std::string key;           // results::run_key of the run
  size_t architecture = 0;   // index into SweepSpec::architectures
  size_t bracket = 0;        // its setting's grid: the same for the runs of one architecture on one setting
  tasks::TaskSettings settings;
  results::TrainingSettings training;
  double flops = 0;          // upper-bound training + evaluation cost (all epochs, no early stop)
  double epoch_flops = 0;    // one epoch: training steps and the test set's evaluation
};

// The architecture at a setting's shape (vocabulary, length, backbone): parameters, state, FLOPs.
models::ArchDescription describe_at(const models::ArchSpec& spec, const tasks::TaskSettings& settings);

std::vector<PlannedRun> plan_sweep(const SweepSpec& spec);

// The task and the settings that differ from its protocol baseline: "in-context-recall seq_len=256",
// "memorization (baseline)".
std::string setting_label(const tasks::TaskSettings& settings);

// "i/N" with 1 <= i <= N. Shard i of N takes the runs at positions i-1, i-1+N, ... of the plan: the N
// shards partition the plan, and each gets a similar mix of tasks and architectures. With
// `whole_brackets` (a halving search, whose decisions need every run of a bracket) it takes the
// brackets at positions i-1, i-1+N, ... in order of their first run instead, each with all its runs, so
// that a shard with its own database (a Slurm task) sees every sibling of its runs.
struct Shard {
  int index = 1, count = 1;
};
Shard parse_shard(const std::string& text);
std::vector<PlannedRun> shard_of(std::span<const PlannedRun> runs, Shard shard, bool whole_brackets = false);

// Seconds a run of `flops` is expected to take at `threads` threads: the training throughput measured on
// this project's machine (docs/performance.md), about 50 GFLOP/s per thread for the MAD transformer.
double estimated_seconds(double flops, int threads);

}  // namespace mad::sweeps
