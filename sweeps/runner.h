// The local sweep runner: trains the planned runs that the results database does not hold yet, in up to
// `jobs` worker processes at once, and records each outcome.
//
// Protocol with the database (results/results_db.h):
//   - before training a run, the runner claims it (status running, this host and the runner's pid); a
//     run that is already final only joins the sweep; a run claimed by a live runner is left to it;
//   - a worker process (fork) trains the run with `threads_per_run` threads and records its outcome
//     (completed or diverged) in one transaction; an error is recorded as failed with its message;
//   - a worker that dies without recording (crash, out of memory, killed) is recorded as failed;
//   - Ctrl-C or SIGTERM kills the workers, records their runs as failed (interrupted) and returns;
//   - if the runner itself is killed (SIGKILL), its workers die with it (PR_SET_PDEATHSIG) and their
//     claims stay 'running' with a dead pid: the next runner on this host retries them.
// So running a sweep again resumes it, and concurrent runners on one database never record a run twice.
// Claims of another host cannot be checked; `reclaim` treats them as abandoned (after a node died).
//
// What to train is decided bracket by bracket (a bracket: one architecture's runs on one task setting)
// by sweeps/halving.h from the epochs in the database. Under a grid search each run trains to its end in
// one worker. Under halving a worker trains a run to its next rung only, checkpoints it under
// `checkpoints` and records it paused; once every run of the bracket has reached the rung, the runner
// records the losers as pruned and starts the survivors on the next stretch from their checkpoints.
// A run held by another runner is left to it under a grid search; under halving the bracket waits for
// it (polling the database), since the rung's decision needs it. Every runner, shard or resumed runner
// reads the same epochs and so makes the same decisions. Halving needs every run of a bracket among
// `runs` (whole brackets: shard_of does that).

#pragma once

#include <span>
#include <string>

#include "sweeps/sweep_plan.h"

namespace mad::sweeps {

struct RunnerOptions {
  std::string db;           // results database file (created when missing)
  int jobs = 1;             // worker processes at once
  int threads_per_run = 1;  // threads of each worker's training
  bool reclaim = false;     // retry runs claimed by a runner on another host
  bool quiet = false;       // no progress output
  std::string checkpoints;  // halving: where runs paused at a rung are saved; empty: DB.checkpoints
  std::string log_dir;      // each run's JSONL epoch stream to DIR/<run key>.jsonl (training/epoch_log.h); empty: none
};

// The checkpoint directory of a runner: options.checkpoints, or DB.checkpoints next to the database.
std::string checkpoint_dir(const RunnerOptions& options);

struct RunnerReport {
  int64_t planned = 0;       // runs given
  int64_t already_done = 0;  // final before this runner got to them (skipped)
  int64_t completed = 0;     // trained here
  int64_t diverged = 0;      // trained here; the loss became NaN or Inf
  int64_t pruned = 0;        // halving: dropped at a rung here
  int64_t paused = 0;        // halving: stretches that ended at a rung here
  int64_t failed = 0;        // trained here without a result (error, crash, interrupted)
  int64_t taken = 0;         // held by another live runner (grid: left to it)
  bool interrupted = false;  // stopped by Ctrl-C or SIGTERM
  double seconds = 0;
};

RunnerReport run_sweep(const SweepSpec& spec, std::span<const PlannedRun> runs, const RunnerOptions& options);

}  // namespace mad::sweeps
