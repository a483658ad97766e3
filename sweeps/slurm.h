// The Slurm backend of `mad sweep run`: a job array whose tasks each train a deterministic slice of the
// runs the results database still lacks, each into its own database on node-local disk, published
// atomically to a shared directory at the end; and a dependent job that merges the published shards into
// the results database. Re-submitting runs only what is still missing; merging is idempotent.
//
// Layout of one submission (next to the results database, which must be on a shared file system):
//   FILE.slurm/<UTC timestamp>/
//     keys.txt         the run keys to train, one per line (the plan minus the final runs of FILE; under
//                      halving, every run of each setting whose search is not finished)
//     base.db          halving: FILE as submitted, each task's starting database (the rungs' decisions
//                      read every epoch recorded so far); runs pause into FILE.checkpoints/ (shared)
//     sweep.sbatch     the array job: task i of K runs `mad sweep run SPEC --shard i/K --only-keys keys.txt`
//     merge.sbatch     the merge job (--dependency=afterany on the array: it merges whatever was published)
//     shards/          shard-<i>.db, published by each task (also after SIGTERM: preemption, scancel)
//     logs/            task-<i>.out, merge.out
//     jobs.txt         the array and merge job ids
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sweeps/sweep_plan.h"

namespace mad::sweeps {

struct SlurmOptions {
  std::string db;                  // the merged results database (on a shared file system)
  std::filesystem::path spec_file; // the sweep spec (on a shared file system)
  std::filesystem::path mad;       // the mad binary every node runs (on a shared file system)
  int array_size = 0;              // array tasks; 0: one per 4 runs, at most 1000
  int cpus_per_task = 1;           // each task trains this many runs at once, one thread each
  std::string partition;           // empty: the cluster's default
  std::string time;                // a task's time limit, e.g. 04:00:00; empty: the partition's default
  bool submit = true;              // false: write the job directory only (--dry-run)
};

struct SlurmSubmission {
  std::filesystem::path directory;
  int64_t runs = 0;  // runs to train (missing from the database)
  int array_size = 0;
  std::string array_job, merge_job;  // job ids; empty when not submitted
};

// The array size for `runs` runs: the option if given, else one task per 4 runs; never more than runs
// or Slurm's default MaxArraySize (1001 tasks, 0..1000).
int slurm_array_size(int64_t runs, int requested);

// The two batch scripts (pure functions of their inputs, so that tests can read them).
std::string slurm_array_script(const SweepSpec& spec, const SlurmOptions& options, const std::filesystem::path& dir,
                               int array_size);
std::string slurm_merge_script(const SweepSpec& spec, const SlurmOptions& options, const std::filesystem::path& dir);

// Writes the job directory for the runs of `plan` that `options.db` does not hold as final (under halving:
// the settings whose search is not finished, whole), and submits
// both jobs with sbatch (unless !options.submit). Nothing is written or submitted when no run is missing.
SlurmSubmission submit_to_slurm(const SweepSpec& spec, std::span<const PlannedRun> plan, const SlurmOptions& options);

// Reads a keys file (one run key per line) and keeps the runs of `plan` it lists, in plan order.
std::vector<PlannedRun> only_keys(std::span<const PlannedRun> plan, const std::filesystem::path& keys_file);

}  // namespace mad::sweeps
