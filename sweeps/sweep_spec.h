// Sweep specs: which architectures to train on which task settings with which training settings.
//
//   name: quick                                   # the sweep's name in the results database
//   architectures:                                # display name -> architecture (at least one)
//     transformer: [mh-attention, swiglu, mh-attention, swiglu]     # a layer list (dim 128)
//     small: {dim: 64, layers: [{type: mh-attention, n_heads: 4}, swiglu]}  # a spec (models/arch_spec.h)
//     mine: {file: ../archs/mine.yml}             # a spec file, relative to this file
//   tasks: [in-context-recall, selective-copying] # names or shorthands (CR, FR, NR, SC, C, M); default all six
//   protocol: mad                                 # mad: the full grid of mad-protocol.md section 2 (default);
//                                                 # baselines: each task's baseline only
//   settings:                                     # instead of protocol: explicit settings, each on top of
//     - {task: in-context-recall, seq_len: 256}   #   its task's baseline
//   task_overrides: {num_train_examples: 1280}    # applied to every setting (quick studies)
//   lr: [1.0e-4, 5.0e-4, 1.0e-3]                  # default: the protocol's grid
//   weight_decay: [0.0, 0.1]                      # default: the protocol's grid
//   epochs: 200                                   # default 200 (early stop at test accuracy > 0.999)
//   batch_size: 128
//   seeds: [12345]                                # data, initialisation and shuffling seed of each run
//   precision: f32                                # or bf16: bf16 matrix products (kernels/precision.h)
//   weight_decay_groups: all                      # or no_norm_bias (training/adamw.h)
//   iso_state: 4096                               # normalise every architecture to this total fixed state
//   iso_params: 400000                            #   (and parameter count) before its runs (models/normalize.h)
//   search: {method: halving, rungs: [10, 30, 80], keep: 0.5}   # successive halving (sweeps/search.h);
//                                                 # default {method: grid}: every run trains all epochs
//
// Every key is checked: an unknown key, an unknown layer, task or setting, an empty list or an invalid
// setting is an error naming the file, line and the fix.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/value.h"
#include "models/arch_spec.h"
#include "sweeps/search.h"
#include "tasks/settings.h"

namespace mad::sweeps {

struct SweepArchitecture {
  std::string name;  // display name (the spec's key)
  models::ArchSpec spec;  // what the runs train, store and key: the normalised spec under iso_state
  // Under iso_state: the spec as written and the normalisation's outcome, measured at the sweep's first
  // task setting (parameters without embeddings; fixed state, excluding growing attention caches).
  bool normalized = false;
  models::ArchSpec original;
  int64_t original_state = 0, original_params = 0, state = 0, params = 0;
  bool state_exact = true, params_within_tolerance = true;
};

struct SweepSpec {
  std::string name;
  std::vector<SweepArchitecture> architectures;
  std::vector<tasks::TaskSettings> settings;  // resolved and validated, without duplicates, task by task
  std::vector<double> lrs = {1e-4, 5e-4, 1e-3};
  std::vector<double> weight_decays = {0.0, 0.1};
  std::vector<int64_t> seeds = {12345};
  int64_t epochs = 200;
  int64_t batch_size = 128;
  std::string precision = "f32";  // f32 | bf16 (kernels/precision.h); part of a run's key when bf16
  std::string weight_decay_groups = "all";  // all | no_norm_bias; part of a run's key when not all
  int64_t iso_state = 0;   // > 0: every architecture is normalised to this total fixed state
  int64_t iso_params = 0;  // > 0 (with iso_state): and to this parameter count, within 2%
  Search search;           // how each setting's lr x weight-decay grid is searched
  config::Value document;  // the spec as resolved (architectures expanded), stored with the sweep
};

// `base_dir` resolves `file:` architecture paths.
SweepSpec sweep_from_config(const config::Value& document, const std::filesystem::path& base_dir);
SweepSpec load_sweep(const std::filesystem::path& file);

}  // namespace mad::sweeps
