#include "config/atomic_file.h"
#include "sweeps/slurm.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

#include "core/error.h"
#include "results/provenance.h"
#include "results/results_db.h"
#include "sweeps/halving.h"

namespace mad::sweeps {
namespace {

namespace fs = std::filesystem;

// 'text' for the shell, whatever it contains.
std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
std::string quote(const fs::path& path) { return quote(path.string()); }

std::string sbatch_header(const std::string& job_name, const SlurmOptions& options, const std::string& output) {
  std::string header = fmt::format("#!/bin/bash\n#SBATCH --job-name={}\n#SBATCH --output={}\n", job_name, output);
  if (!options.partition.empty()) header += fmt::format("#SBATCH --partition={}\n", options.partition);
  if (!options.time.empty()) header += fmt::format("#SBATCH --time={}\n", options.time);
  return header;
}

void write_file(const fs::path& path, const std::string& text) {
  config::write_file_atomically(path, text);  // a full disk leaves no half a job script
}

// Runs `sbatch --parsable ARGS SCRIPT` and returns the job id it prints.
std::string sbatch(const std::string& arguments, const fs::path& script) {
  const std::string command = fmt::format("sbatch --parsable {} {} 2>&1", arguments, quote(script));
  std::FILE* pipe = popen(command.c_str(), "r");
  MAD_CHECK(pipe, "cannot run sbatch: {}", std::strerror(errno));
  std::string output;
  char buffer[256];
  while (std::fgets(buffer, sizeof(buffer), pipe)) output += buffer;
  const int status = pclose(pipe);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  MAD_CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) != 127,
            "sbatch was not found; submit from a Slurm login node, or run the sweep locally without --backend slurm");
  // Its last line says why (e.g. "sbatch: fatal: Could not establish a configuration source").
  MAD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sbatch failed for {}: {}; is SLURM_CONF set and the "
            "controller up ('sinfo')?", script.string(), output.substr(output.rfind('\n') + 1));
  // --parsable prints "jobid" or "jobid;cluster".
  return output.substr(0, output.find(';'));
}

// Under halving a task decides its brackets' rungs from every epoch recorded so far, so it starts from a
// copy of the results database as it was at submission (base.db), not an empty one.
std::string halving_seed(const SweepSpec& spec, const fs::path& dir) {
  if (!spec.search.halving()) return "";
  return fmt::format(
      "# Halving: start from the results database as submitted, whose epochs the rungs' decisions read.\n"
      "cp {} \"$local_db\" || exit 1\n",
      quote(dir / "base.db"));
}

// Under halving runs pause at rungs into checkpoints that a later task (after preemption, or the next
// submission) resumes from: they go to the shared directory next to the results database.
std::string halving_checkpoints(const SweepSpec& spec, const SlurmOptions& options) {
  if (!spec.search.halving()) return "";
  return " --checkpoints " + quote(fs::absolute(options.db + ".checkpoints"));
}

// The runs a submission trains: under a grid search those without a final record; under halving every
// run of each bracket the search has not finished (a task needs all of a bracket's runs to decide).
std::vector<const PlannedRun*> runs_to_submit(const SweepSpec& spec, std::span<const PlannedRun> plan,
                                              results::ResultsDb& db) {
  std::vector<const PlannedRun*> out;
  if (!spec.search.halving()) {
    const std::unordered_set<std::string> done = db.completed_keys();
    for (const PlannedRun& run : plan)
      if (!done.contains(run.key)) out.push_back(&run);
    return out;
  }
  std::map<size_t, std::vector<const PlannedRun*>> brackets;
  for (const PlannedRun& run : plan) brackets[run.bracket].push_back(&run);
  std::set<size_t> open;
  for (const auto& [bracket, runs] : brackets) {
    std::vector<BracketRun> progress;
    std::vector<std::optional<results::RunState>> states;
    for (const PlannedRun* run : runs) {
      states.push_back(db.run_state(run->key, true));
      progress.push_back(bracket_run(run->key, states.back()));
    }
    const std::vector<HalvingStep> steps = halving_steps(progress, spec.search, spec.epochs);
    for (size_t i = 0; i < steps.size(); ++i) {
      if (!search_finished(steps[i], states[i])) open.insert(bracket);
    }
  }
  for (const PlannedRun& run : plan)
    if (open.contains(run.bracket)) out.push_back(&run);
  return out;
}

}  // namespace

int slurm_array_size(int64_t runs, int requested) {
  constexpr int kRunsPerTask = 4;  // array tasks cost ~0.5 s of scheduling each: give each a chunk
  constexpr int kMaxArraySize = 1000;
  const int64_t size = requested > 0 ? requested : (runs + kRunsPerTask - 1) / kRunsPerTask;
  return static_cast<int>(std::clamp<int64_t>(size, 1, std::min<int64_t>(std::max<int64_t>(runs, 1), kMaxArraySize)));
}

std::string slurm_array_script(const SweepSpec& spec, const SlurmOptions& options, const fs::path& dir, int array_size) {
  std::string script = sbatch_header("mad-" + spec.name, options, (dir / "logs" / "task-%a.out").string());
  script += fmt::format("#SBATCH --array=1-{}\n#SBATCH --cpus-per-task={}\n", array_size, options.cpus_per_task);
  script += fmt::format(R"(
# One array task: train slice $SLURM_ARRAY_TASK_ID of {n} of the missing runs into a database on this
# node's local disk (SQLite must not be written over a network file system), then publish it atomically.
set -u
task=${{SLURM_ARRAY_TASK_ID:?not running under Slurm}}
cpus=${{SLURM_CPUS_PER_TASK:-{cpus}}}
local_db="${{SLURM_TMPDIR:-${{TMPDIR:-/tmp}}}}/mad-${{SLURM_ARRAY_JOB_ID:-$$}}-$task.db"
rm -f "$local_db" "$local_db-wal" "$local_db-shm"
{seed}# Preemption and scancel send SIGTERM: mad records its interrupted runs as failed and returns; this script
# ignores SIGTERM so that it can still publish the runs that finished.
trap '' TERM
{mad} sweep run {spec} --db "$local_db" --shard "$task/{n}" --only-keys {keys} --jobs "$cpus" --threads-per-run 1{checkpoints}
status=$?
if [ -f "$local_db" ]; then
  {mad} results publish "$local_db" {shards}/shard-$task.db && rm -f "$local_db" "$local_db-wal" "$local_db-shm"
fi
exit $status
)",
                        fmt::arg("n", array_size), fmt::arg("cpus", options.cpus_per_task),
                        fmt::arg("mad", quote(options.mad)), fmt::arg("spec", quote(fs::absolute(options.spec_file))),
                        fmt::arg("keys", quote(dir / "keys.txt")), fmt::arg("shards", quote(dir / "shards")),
                        fmt::arg("seed", halving_seed(spec, dir)), fmt::arg("checkpoints", halving_checkpoints(spec, options)));
  return script;
}

std::string slurm_merge_script(const SweepSpec& spec, const SlurmOptions& options, const fs::path& dir) {
  std::string script = sbatch_header("mad-" + spec.name + "-merge", options, (dir / "logs" / "merge.out").string());
  script += fmt::format(R"(
# After every array task has ended (however it ended): fold the published shards into the results database.
# Merging is idempotent, so this job can be re-run by hand: sbatch {self}
set -eu
shopt -s nullglob
shards=({shards}/shard-*.db)
if [ ${{#shards[@]}} -gt 0 ]; then
  {mad} results merge {db} "${{shards[@]}}"
fi
{mad} sweep status {spec} --db {db}
touch {dir}/merged
)",
                        fmt::arg("self", quote(dir / "merge.sbatch")), fmt::arg("shards", quote(dir / "shards")),
                        fmt::arg("mad", quote(options.mad)), fmt::arg("db", quote(fs::absolute(options.db))),
                        fmt::arg("spec", quote(fs::absolute(options.spec_file))), fmt::arg("dir", quote(dir)));
  return script;
}

SlurmSubmission submit_to_slurm(const SweepSpec& spec, std::span<const PlannedRun> plan, const SlurmOptions& options) {
  MAD_CHECK(options.cpus_per_task >= 1, "--cpus-per-task must be at least 1, got {}", options.cpus_per_task);
  // The runs still to train (the database is created, with its schema, if missing: the merge job writes
  // into it).
  results::ResultsDb db = results::ResultsDb::open(options.db);
  SlurmSubmission submission;
  std::string keys;
  for (const PlannedRun* run : runs_to_submit(spec, plan, db)) {
    keys += run->key + "\n";
    ++submission.runs;
  }
  if (submission.runs == 0) return submission;

  std::string stamp = results::utc_timestamp();
  std::replace(stamp.begin(), stamp.end(), ':', '-');
  submission.directory = fs::absolute(fs::path(options.db + ".slurm") / stamp);
  MAD_CHECK(!fs::exists(submission.directory), "{} exists already; wait a second and submit again",
            submission.directory.string());
  fs::create_directories(submission.directory / "shards");
  fs::create_directories(submission.directory / "logs");
  submission.array_size = slurm_array_size(submission.runs, options.array_size);
  write_file(submission.directory / "keys.txt", keys);
  if (spec.search.halving()) db.publish((submission.directory / "base.db").string());
  write_file(submission.directory / "sweep.sbatch",
             slurm_array_script(spec, options, submission.directory, submission.array_size));
  write_file(submission.directory / "merge.sbatch", slurm_merge_script(spec, options, submission.directory));
  if (!options.submit) return submission;

  try {
    submission.array_job = sbatch("", submission.directory / "sweep.sbatch");
  } catch (const Error&) {
    fs::remove_all(submission.directory);  // nothing was submitted: leave no submission behind
    throw;
  }
  submission.merge_job = sbatch("--dependency=afterany:" + submission.array_job, submission.directory / "merge.sbatch");
  write_file(submission.directory / "jobs.txt",
             fmt::format("array {}\nmerge {}\n", submission.array_job, submission.merge_job));
  return submission;
}

std::vector<PlannedRun> only_keys(std::span<const PlannedRun> plan, const fs::path& keys_file) {
  std::ifstream in(keys_file);
  MAD_CHECK(in.good(), "--only-keys {}: cannot read the file", keys_file.string());
  std::unordered_set<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) keys.insert(line);
  }
  std::vector<PlannedRun> out;
  for (const PlannedRun& run : plan) {
    if (keys.contains(run.key)) out.push_back(run);
  }
  MAD_CHECK(out.size() == keys.size(),
            "--only-keys {}: {} of its {} keys are not runs of this sweep; was the spec changed after submitting?",
            keys_file.string(), keys.size() - out.size(), keys.size());
  return out;
}

}  // namespace mad::sweeps
