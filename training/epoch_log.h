// The JSONL epoch stream: one JSON object per finished epoch, one line each, flushed as it is written, so
// that a tracker, a notebook or `tail -f` can follow a run while it trains (`mad train --log-jsonl FILE`,
// `mad sweep run --log-dir DIR`, the Python module's callback). Each line is canonical JSON (sorted keys):
//   {"epoch": 1, "key": "<run key>", "lr": ..., "seconds": ...,
//    "test_acc": ..., "test_loss": ..., "test_ppl": ..., "test_token_acc": ...,
//    "train_acc": ..., "train_loss": ..., "train_ppl": ..., "train_token_acc": ...}
// *_acc is the MAD accuracy, *_token_acc the token accuracy (as in the results store's run_epochs); a NaN
// metric (a diverged loss) is written NaN, as Python's json module writes and reads it.
#pragma once

#include <cstdio>
#include <string>

#include "config/value.h"
#include "training/trainer.h"

namespace mad {

// The line's object for one epoch of the run `key`.
config::Value epoch_json(const std::string& key, const EpochResult& epoch);

// Writes each epoch to `path` and passes every report on to `inner` (may be null). The file is created
// (truncated) at the run's first epoch and appended to by a resumed run, so it holds each epoch once.
class EpochLog : public TrainObserver {
 public:
  // Fails in one line when the file cannot be written, before any training.
  EpochLog(std::string path, std::string key, TrainObserver* inner = nullptr);
  ~EpochLog() override;
  EpochLog(const EpochLog&) = delete;
  EpochLog& operator=(const EpochLog&) = delete;

  void on_step(int64_t epoch, int64_t step, int64_t steps_per_epoch, double loss, double lr) override;
  void on_epoch(const EpochResult& epoch, const TrainResult& so_far) override;

 private:
  std::string path_, key_;
  TrainObserver* inner_;
  std::FILE* file_ = nullptr;
};

}  // namespace mad
