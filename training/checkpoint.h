// Checkpoints: a versioned file holding a model's named parameters, the optimizer's moments and the
// trainer's state, so that a run can be resumed exactly where it stopped.
//
// Layout: the 8 bytes "MADCKPT\n", a little-endian uint64 header length, the header (canonical JSON: format
// version, dtype, the name/shape/offset table, trainer state, epoch history, and the caller's metadata such
// as the architecture and task), then the raw parameter block sections: values, moment1, moment2 and, when
// present, the best epoch's values, and last the 32-byte SHA-256 of everything before it. Loading refuses,
// with one line, a checksum mismatch, a truncated file, bytes after the checksum and non-finite values, and
// leaves the model's parameters untouched then. Files are written to a temporary name, flushed and renamed
// (config/atomic_file.h), so a crash or a full disk never leaves a half-written checkpoint.
#pragma once

#include <string>

#include "config/value.h"
#include "training/trainer.h"

namespace mad {

inline constexpr int kCheckpointVersion = 2;  // 2: SHA-256 trailer

// {loss, ppl, acc, token_acc}, as stored in checkpoints and printed by `mad train --json`.
config::Value to_config(const SplitMetrics& m);
SplitMetrics split_metrics_from_config(const config::Value& v);

void save_checkpoint(const std::string& path, ParamStore& params, const TrainState& state, const config::Value& meta);

struct LoadedCheckpoint {
  TrainState state;
  config::Value meta;
};

// Restores values and moments into `params` (names, shapes and dtype must match: the first mismatch is
// named in the error) and returns the trainer state and metadata.
LoadedCheckpoint load_checkpoint(const std::string& path, ParamStore& params);

// Only the metadata (to rebuild the model before loading the parameters).
config::Value read_checkpoint_meta(const std::string& path);

}  // namespace mad
