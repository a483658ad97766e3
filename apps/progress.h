// Progress of a training run for a person watching: on a terminal (stderr is a TTY and TERM is not
// "dumb") one status line redrawn at most 10 times a second; otherwise (CI and cluster logs) nothing
// between epochs. Either way one plain line per epoch on stderr. --quiet silences both.
#pragma once

#include <chrono>

#include "training/trainer.h"

namespace mad::cli {

class ProgressLine : public TrainObserver {
 public:
  ProgressLine(int64_t epochs, int64_t tokens_per_step, bool quiet);
  ~ProgressLine() override { clear(); }

  void on_step(int64_t epoch, int64_t step, int64_t steps, double loss, double lr) override;
  void on_epoch(const EpochResult& e, const TrainResult& so_far) override;

 private:
  void clear();

  int64_t epochs_, tokens_per_step_;
  bool quiet_, live_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
  double seconds_per_epoch_ = 0;
};

}  // namespace mad::cli
