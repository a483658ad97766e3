// `mad sweep plan SPEC` and `mad sweep run SPEC --db FILE`: expand a sweep spec (configs/sweeps/) into
// training runs and estimate their cost; run them into a results database, resumably and in parallel,
// locally or as a Slurm job array; `mad sweep status` shows where a sweep stands.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "config/canonical.h"
#include "results/results_db.h"
#include "core/parallel.h"
#include "sweeps/cost.h"
#include "sweeps/runner.h"
#include "sweeps/slurm.h"
#include "sweeps/sweep_plan.h"

namespace mad::cli {
namespace {

struct SweepOptions {
  std::string spec_file;
  std::string shard = "1/1";
  std::string only_keys;
  std::string backend = "local";
  std::optional<double> calibrate_seconds;  // `plan --calibrate`
  bool json = false;
  sweeps::RunnerOptions runner;
  sweeps::SlurmOptions slurm;
};

// The runs `mad sweep run` and `mad sweep status` work on: the plan, restricted to a keys file, sharded.
// Under halving a shard takes whole brackets (its decisions need every run of a setting's grid).
std::vector<sweeps::PlannedRun> selected_runs(const SweepOptions& o, const sweeps::SweepSpec& spec,
                                              const std::vector<sweeps::PlannedRun>& all) {
  const std::vector<sweeps::PlannedRun> listed = o.only_keys.empty() ? all : sweeps::only_keys(all, o.only_keys);
  return sweeps::shard_of(listed, sweeps::parse_shard(o.shard), spec.search.halving());
}

int cores() { return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))); }

// "12 min", "3.4 h"; with `exact`, CPU-hours to two decimals ("0.21 CPU-h").
std::string hours_text(double seconds, bool exact = false) {
  if (exact) return fmt::format("{:.2f} CPU-h", seconds / 3600);
  if (seconds < 3600) return fmt::format("{:.0f} min", std::max(1.0, seconds / 60));
  return fmt::format("{:.1f} h", seconds / 3600);
}

// The halving search the plan estimates: the spec's, or for a grid spec the default schedule
// (sweeps/search.h); none when the grid has a single run per setting or the epochs leave no rung, or for
// a shard of a grid spec (it splits brackets, whose cost under halving it cannot say).
std::optional<sweeps::Search> halving_for_estimate(const sweeps::SweepSpec& spec, const sweeps::Shard& shard) {
  if (spec.search.halving()) return spec.search;
  if (shard.count > 1) return std::nullopt;
  sweeps::Search halving{sweeps::Search::Method::halving, sweeps::default_rungs(spec.epochs), 0.5};
  if (halving.rungs.empty() || spec.lrs.size() * spec.weight_decays.size() < 2) return std::nullopt;
  return halving;
}

std::string search_text(const sweeps::Search& search) {
  if (!search.halving()) return "grid (every run trains all its epochs)";
  return fmt::format("halving at epochs {}, keep {}", fmt::join(search.rungs, " "), search.keep);
}

void run_plan(const SweepOptions& o) {
  const sweeps::SweepSpec spec = sweeps::load_sweep(o.spec_file);
  const std::vector<sweeps::PlannedRun> all = sweeps::plan_sweep(spec);
  const std::vector<sweeps::PlannedRun> runs = sweeps::shard_of(all, sweeps::parse_shard(o.shard), spec.search.halving());
  const int threads = o.runner.threads_per_run;
  const int jobs = std::max(1, o.runner.jobs > 0 ? o.runner.jobs : cores() / threads);
  MAD_CHECK(threads >= 1, "--threads-per-run must be at least 1, got {}", threads);

  // The price of an epoch: measured here (--calibrate) or from the FLOP count.
  sweeps::CostModel model = sweeps::CostModel::from_flops(threads);
  std::optional<sweeps::Calibration> calibration;
  if (o.calibrate_seconds) {
    set_num_threads(threads);
    calibration = sweeps::calibrate(spec, runs, *o.calibrate_seconds);
    model = sweeps::CostModel::calibrated(*calibration);
  }
  const std::optional<sweeps::Search> halving = halving_for_estimate(spec, sweeps::parse_shard(o.shard));
  const sweeps::Search grid;

  // Per task: settings, runs and CPU seconds under the grid and under halving.
  struct TaskLine {
    std::set<std::string> settings;
    std::vector<sweeps::PlannedRun> runs;
    double grid = 0, halving = 0;
  };
  std::map<std::string, TaskLine> per_task;
  std::vector<std::string> task_order;
  for (const sweeps::PlannedRun& run : runs) {
    const std::string task(tasks::task_info(run.settings.task).name);
    if (!per_task.contains(task)) task_order.push_back(task);
    TaskLine& line = per_task[task];
    line.settings.insert(config::canonical(tasks::to_config(run.settings)));
    line.runs.push_back(run);
  }
  double grid_total = 0, halving_total = 0;
  for (auto& [task, line] : per_task) {
    line.grid = sweeps::planned_cpu_seconds(line.runs, grid, spec.epochs, model);
    if (halving) line.halving = sweeps::planned_cpu_seconds(line.runs, *halving, spec.epochs, model);
    grid_total += line.grid;
    halving_total += line.halving;
  }
  const double search_total = spec.search.halving() ? halving_total : grid_total;
  const std::string source =
      calibration ? fmt::format("calibrated: {} training steps and an evaluation batch at each of {} task shapes, timed on "
                                "this machine ({:.0f} CPU s)",
                                calibration->steps, calibration->shapes.size(), calibration->seconds)
                  : "from the FLOP count at about 50 GFLOP/s per thread (docs/performance.md); --calibrate SECONDS "
                    "measures this machine";
  const std::string leaves_out =
      "early stopping at test accuracy > 0.999 (it shortens runs), per-run overheads (process start, data "
      "generation, checkpoints, database writes; they dominate tiny runs) and other load on the machine";

  if (o.json) {
    config::Value out = config::Value::map();
    out.set("sweep", spec.name);
    out.set("runs", config::Value(static_cast<int64_t>(runs.size())));
    out.set("runs_in_sweep", config::Value(static_cast<int64_t>(all.size())));
    out.set("estimated_seconds", search_total / threads);  // wall time on one worker
    out.set("jobs", config::Value(jobs));
    out.set("search", sweeps::to_config(spec.search));
    out.set("grid_cpu_seconds", grid_total);
    out.set("halving_cpu_seconds", halving ? config::Value(halving_total) : config::Value());
    out.set("halving", halving ? sweeps::to_config(*halving) : config::Value());
    out.set("calibrated", calibration.has_value());
    out.set("estimate", source);
    out.set("leaves_out", leaves_out);
    config::Value task_map = config::Value::map();
    for (const std::string& task : task_order) {
      const TaskLine& line = per_task[task];
      config::Value t = config::Value::map();
      t.set("settings", config::Value(static_cast<int64_t>(line.settings.size())));
      t.set("runs", config::Value(static_cast<int64_t>(line.runs.size())));
      t.set("estimated_seconds", (spec.search.halving() ? line.halving : line.grid) / threads);
      t.set("grid_cpu_seconds", line.grid);
      t.set("halving_cpu_seconds", halving ? config::Value(line.halving) : config::Value());
      task_map.set(task, t);
    }
    out.set("tasks", task_map);
    config::Value arch_list = config::Value::list();
    for (const sweeps::SweepArchitecture& a : spec.architectures) {
      const models::ArchDescription d = sweeps::describe_at(a.spec, spec.settings.front());
      config::Value v = config::Value::map();
      v.set("name", a.name);
      v.set("params", config::Value(d.params));
      v.set("state", config::Value(d.total_state));
      v.set("fixed_state", d.fixed_state);
      if (a.normalized) {
        v.set("original_params", config::Value(a.original_params));
        v.set("original_state", config::Value(a.original_state));
        v.set("normalized_state", config::Value(a.state));
        v.set("state_exact", a.state_exact);
        v.set("params_within_tolerance", a.params_within_tolerance);
      }
      arch_list.push_back(v);
    }
    out.set("architectures", arch_list);
    fmt::print("{}\n", config::canonical(out));
    return;
  }

  fmt::print("sweep {}: {} architecture(s) x {} task setting(s) x {} lr x {} weight decay = {} runs{}\n", spec.name,
             spec.architectures.size(), spec.settings.size(), spec.lrs.size(), spec.weight_decays.size(), all.size(),
             runs.size() == all.size() ? "" : fmt::format(" (shard {}: {} runs)", o.shard, runs.size()));
  fmt::print("training: up to {} epochs, batch {}, lr {}, weight decay {}\n", spec.epochs, spec.batch_size,
             fmt::join(spec.lrs, " "), fmt::join(spec.weight_decays, " "));
  fmt::print("search: {}\n", search_text(spec.search));
  if (spec.iso_state > 0) {
    // Normalised architectures: what was written, and what the runs train (fixed state; attention's growing
    // KV cache excluded from the target).
    fmt::print("\nnormalised to iso_state {}{} (models/normalize.h):\n", spec.iso_state,
               spec.iso_params > 0 ? fmt::format(", iso_params {}", spec.iso_params) : "");
    fmt::print("{:<20} {:<44} {:>21} {:>21}\n", "architecture", "layers", "params", "fixed state");
    for (const sweeps::SweepArchitecture& a : spec.architectures) {
      std::string notes;
      if (!a.state_exact) notes += fmt::format("  state {} NOT reachable exactly", spec.iso_state);
      if (!a.params_within_tolerance) notes += "  params outside 2%";
      fmt::print("{:<20} {:<44} {:>21} {:>21}{}\n", a.name, models::arch_summary(a.spec),
                 fmt::format("{} -> {}", a.original_params, a.params), fmt::format("{} -> {}", a.original_state, a.state),
                 notes);
    }
  }
  fmt::print("\n{:<20} {:<56} {:>10} {:>10}\n", "architecture", "layers", "params", "state");
  for (const sweeps::SweepArchitecture& a : spec.architectures) {
    const models::ArchDescription d = sweeps::describe_at(a.spec, spec.settings.front());
    // A growing state is at the task's input length, which `mad describe --task` gives too (the recall
    // tasks take seq_len - 1 inputs: 127, where `mad describe` without a task uses 128).
    fmt::print("{:<20} {:<56} {:>10} {:>10}{}\n", a.name, models::arch_summary(a.spec), d.params, d.total_state,
               d.fixed_state ? "" : fmt::format(" (grows with L; at L={})", d.seq_len));
  }
  fmt::print("(params without embeddings and state floats per sequence, at {})\n",
             sweeps::setting_label(spec.settings.front()));
  fmt::print("\n{:<26} {:>9} {:>7} {:>14} {:>14}\n", "task", "settings", "runs", "grid CPU", "halving CPU");
  for (const std::string& task : task_order) {
    const TaskLine& line = per_task[task];
    fmt::print("{:<26} {:>9} {:>7} {:>14} {:>14}\n", task, line.settings.size(), line.runs.size(),
               hours_text(line.grid), halving ? hours_text(line.halving) : "-");
  }
  fmt::print("\ntotal: {} runs; CPU time at {} thread(s) per run, at most:\n", runs.size(), threads);
  fmt::print("  grid:    {:>10}, about {} of wall time with {} worker(s)\n", hours_text(grid_total),
             hours_text(grid_total / threads / jobs), jobs);
  if (halving) {
    fmt::print("  halving: {:>10}, about {} with {} worker(s): {:.0f}% of the grid ({}{})\n", hours_text(halving_total),
               hours_text(halving_total / threads / jobs), jobs, 100 * halving_total / grid_total, search_text(*halving),
               spec.search.halving() ? "" : "; the default schedule: this spec searches the grid");
  }
  fmt::print("estimate {}\n", source);
  fmt::print("leaves out {}\n", leaves_out);
}

void run_slurm(SweepOptions& o, const sweeps::SweepSpec& spec, const std::vector<sweeps::PlannedRun>& runs) {
  o.slurm.db = o.runner.db;
  o.slurm.spec_file = o.spec_file;
  o.slurm.mad = std::filesystem::read_symlink("/proc/self/exe");
  const sweeps::SlurmSubmission s = sweeps::submit_to_slurm(spec, runs, o.slurm);
  if (s.runs == 0) {
    fmt::print("sweep {}: every run is in {} already; nothing to submit\n", spec.name, o.runner.db);
    return;
  }
  fmt::print("sweep {}: {} missing run(s) in {} array task(s) x {} cpu(s); job directory {}\n", spec.name, s.runs,
             s.array_size, o.slurm.cpus_per_task, s.directory.string());
  if (!o.slurm.submit) {
    fmt::print("not submitted (--dry-run): sbatch {}/sweep.sbatch, then sbatch --dependency=afterany:<id> "
               "{}/merge.sbatch\n", s.directory.string(), s.directory.string());
    return;
  }
  fmt::print("submitted array job {} and merge job {} (runs when the array has ended)\n", s.array_job, s.merge_job);
  fmt::print("progress: mad sweep status {} --db {}\n", o.spec_file, o.runner.db);
}

void run_run(SweepOptions& o) {
  const sweeps::SweepSpec spec = sweeps::load_sweep(o.spec_file);
  const std::vector<sweeps::PlannedRun> all = sweeps::plan_sweep(spec);
  const std::vector<sweeps::PlannedRun> runs = selected_runs(o, spec, all);
  MAD_CHECK(o.backend == "local" || o.backend == "slurm", "--backend {}: use local or slurm", o.backend);
  // A new database may go into a new directory (e.g. runs/quick.db).
  const std::filesystem::path db_dir = std::filesystem::path(o.runner.db).parent_path();
  std::error_code ignored;
  if (!db_dir.empty()) std::filesystem::create_directories(db_dir, ignored);
  MAD_CHECK(o.backend == "local" || o.runner.log_dir.empty(),
            "--log-dir works with the local backend only; drop it for --backend slurm (the epochs are in the results "
            "database: 'mad runs show KEY')");
  if (o.backend == "slurm") return run_slurm(o, spec, runs);
  if (o.runner.jobs <= 0) o.runner.jobs = std::max(1, cores() / o.runner.threads_per_run);
  const sweeps::RunnerReport r = sweeps::run_sweep(spec, runs, o.runner);
  const std::string halving =
      spec.search.halving() ? fmt::format(", {} pruned, {} stretch(es) paused at a rung", r.pruned, r.paused) : "";
  fmt::print("sweep {}{}: {} runs: {} trained ({} completed, {} diverged){}, {} failed, {} already done, {} {} another "
             "runner; {:.0f} s\n",
             spec.name, runs.size() == all.size() ? "" : fmt::format(" (shard {} of {} runs)", o.shard, all.size()),
             r.planned, r.completed + r.diverged, r.completed, r.diverged, halving, r.failed, r.already_done, r.taken,
             spec.search.halving() ? "held by" : "left to", r.seconds);
  if (r.interrupted) {
    fmt::print("interrupted: run the same command again to resume\n");
    throw ExitStatus{130};
  }
  if (r.failed > 0) {
    fmt::print("some runs failed: 'mad runs --db {} --status failed' shows why; running the sweep again retries them\n",
               o.runner.db);
    throw ExitStatus{1};
  }
  fmt::print("scores: mad scores --db {} --sweep {}\n", o.runner.db, spec.name);
}

// Where a sweep stands: the plan's runs by status in the database, the latest Slurm submission's
// published shards, and its jobs in the queue.
void run_status(const SweepOptions& o) {
  const sweeps::SweepSpec spec = sweeps::load_sweep(o.spec_file);
  const std::vector<sweeps::PlannedRun> runs = selected_runs(o, spec, sweeps::plan_sweep(spec));
  std::map<std::string, std::optional<results::RunState>> state_of;  // key -> status, CPU seconds, epochs
  std::optional<results::ResultsDb> db;
  if (std::filesystem::exists(o.runner.db)) db = results::ResultsDb::open(o.runner.db, results::ResultsDb::Access::read_only);
  for (const sweeps::PlannedRun& run : runs) state_of[run.key] = db ? db->run_state(run.key, true) : std::nullopt;
  std::map<std::string, int64_t> counts;
  // CPU time spent, and the CPU seconds per FLOP of the epochs those runs trained.
  double spent = 0, spent_flops = 0;
  int64_t unknown = 0;
  std::map<size_t, std::vector<sweeps::PlannedRun>> brackets;
  std::map<size_t, std::vector<sweeps::BracketRun>> progress;
  for (const sweeps::PlannedRun& run : runs) {
    const std::optional<results::RunState>& state = state_of.at(run.key);
    ++counts[state ? std::string(results::status_name(state->status)) : "missing"];
    if (state && state->cpu_seconds) {
      spent += *state->cpu_seconds;
      const double trained = state->epochs.empty() ? 0 : static_cast<double>(state->epochs.back().epoch);
      spent_flops += trained * run.epoch_flops;
    } else if (state && !state->epochs.empty()) {
      ++unknown;
    }
    brackets[run.bracket].push_back(run);
    progress[run.bracket].push_back(sweeps::bracket_run(run.key, state));
  }
  std::vector<std::string> parts;
  for (const char* status : {"completed", "diverged", "pruned", "paused", "failed", "running", "missing"})
    parts.push_back(fmt::format("{} {}", counts[status], status));
  fmt::print("sweep {}: {} runs in {}: {}\n", spec.name, runs.size(), o.runner.db, fmt::join(parts, ", "));

  // What is left, at the speed these runs were measured at (the FLOP estimate before any).
  const bool measured = spent_flops > 0 && spent > 0;
  const sweeps::CostModel model =
      measured ? sweeps::CostModel::per_flop(spent / spent_flops) : sweeps::CostModel::from_flops(1);
  double left = 0;
  for (const auto& [bracket, of_bracket] : brackets)
    left += sweeps::remaining_cpu_seconds(of_bracket, progress[bracket], spec.search, spec.epochs, model);
  fmt::print("CPU time: {} spent{}; at most {} left under the {} search ({}; early stopping shortens it)\n",
             hours_text(spent, true), unknown ? fmt::format(" ({} run(s) recorded without CPU time)", unknown) : "",
             hours_text(left, true), sweeps::method_name(spec.search.method),
             measured ? "at the CPU seconds per FLOP measured on these runs" : "from the FLOP count: nothing measured yet");

  const std::filesystem::path submissions(o.runner.db + ".slurm");
  if (!std::filesystem::is_directory(submissions)) return;
  std::filesystem::path latest;
  for (const auto& entry : std::filesystem::directory_iterator(submissions)) latest = std::max(latest, entry.path());
  if (latest.empty()) return;
  // Published shards and the final runs in them (tasks still running have not published yet).
  int64_t shards = 0, shard_runs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(latest / "shards")) {
    if (entry.path().extension() != ".db") continue;
    ++shards;
    shard_runs += static_cast<int64_t>(
        results::ResultsDb::open(entry.path().string(), results::ResultsDb::Access::read_only).completed_keys().size());
  }
  int64_t submitted = 0;
  std::ifstream keys(latest / "keys.txt");
  for (std::string line; std::getline(keys, line);) submitted += !line.empty();
  fmt::print("latest Slurm submission {}: {} run(s) submitted, {} finished in {} published shard(s){}\n", latest.string(),
             submitted, shard_runs, shards, std::filesystem::exists(latest / "merged") ? ", merged" : ", not merged yet");
  std::ifstream jobs(latest / "jobs.txt");
  std::string ids;
  for (std::string kind, id; jobs >> kind >> id;) ids += (ids.empty() ? "" : ",") + id;
  if (!ids.empty()) {
    fmt::print("queue (squeue -j {}):\n", ids);
    std::fflush(stdout);
    const int ignored = std::system(fmt::format("squeue -h -j {} -o '  %i %T %M %R' 2>/dev/null", ids).c_str());
    (void)ignored;
  }
}

}  // namespace

void setup_sweep(CLI::App& app) {
  auto o = std::make_shared<SweepOptions>();
  o->runner.jobs = 0;  // 0: cores / threads per run
  CLI::App* sweep = app.add_subcommand("sweep", "Plan and run sweeps: architectures x task settings x lr x weight decay "
                                                "(specs in configs/sweeps/).");
  sweep->require_subcommand(1);

  CLI::App* plan = sweep->add_subcommand(
      "plan", "Print how many runs a sweep spec expands to and an estimate of the time they need.\n"
              "Example: mad sweep plan configs/sweeps/mad-transformer.yml");
  plan->add_option("spec", o->spec_file, "sweep spec (YAML)")->required();
  plan->add_option("--shard", o->shard, "only the i-th of N deterministic slices of the runs, e.g. 2/8")->capture_default_str();
  plan->add_option("--jobs", o->runner.jobs, "workers the time estimate assumes (default: cores / threads per run)")
      ->check(int_in(1, kMaxWorkers));
  plan->add_option("--threads-per-run", o->runner.threads_per_run, "threads of each run")
      ->check(int_in(1, kMaxWorkers))
      ->capture_default_str();
  plan->add_flag("--json", o->json, "print the plan as one JSON object");
  plan->add_option("--calibrate", o->calibrate_seconds,
                   "spend about SECONDS of CPU time timing real training steps at each task shape on this machine, "
                   "and estimate from them instead of the FLOP count")
      ->check(real_positive());
  plan->callback([o] { run_plan(*o); });

  CLI::App* run = sweep->add_subcommand(
      "run", "Run a sweep into a SQLite results database. Runs already recorded are skipped, so running the\n"
             "same command again resumes an interrupted sweep; concurrent runners share the database safely.\n"
             "Example: mad sweep run configs/sweeps/quick.yml --db quick.db && mad scores --db quick.db");
  run->add_option("spec", o->spec_file, "sweep spec (YAML)")->required();
  run->add_option("--db", o->runner.db, "results database (created when missing)")->required();
  run->add_option("--jobs", o->runner.jobs, "runs trained at once, each in its own process (default: cores / threads per run)")
      ->check(int_in(1, kMaxWorkers));
  run->add_option("--threads-per-run", o->runner.threads_per_run, "threads of each run")
      ->check(int_in(1, kMaxWorkers))
      ->capture_default_str();
  run->add_option("--shard", o->shard, "run only the i-th of N deterministic slices of the runs (one per machine), e.g. 2/8")
      ->capture_default_str();
  run->add_option("--only-keys", o->only_keys, "train only the runs whose keys FILE lists, one per line (Slurm tasks use it)");
  run->add_option("--backend", o->backend, "local: worker processes on this machine; slurm: a job array and a merge job")
      ->capture_default_str();
  run->add_option("--array-size", o->slurm.array_size, "slurm: array tasks (default: one per 4 missing runs, at most 1000)")
      ->check(int_in(1, 1000));
  run->add_option("--cpus-per-task", o->slurm.cpus_per_task, "slurm: cpus of each array task = runs it trains at once")
      ->check(int_in(1, kMaxWorkers))
      ->capture_default_str();
  run->add_option("--partition", o->slurm.partition, "slurm: partition (default: the cluster's default)");
  run->add_option("--time", o->slurm.time, "slurm: time limit of each array task, e.g. 04:00:00");
  run->add_flag("--dry-run", [o](int64_t) { o->slurm.submit = false; }, "slurm: write the job scripts, submit nothing");
  run->add_flag("--reclaim", o->runner.reclaim,
                "retry runs left 'running' by a runner on another host (use when that host died)");
  run->add_flag("--quiet", o->runner.quiet, "no progress output");
  run->add_option("--checkpoints", o->runner.checkpoints,
                  "halving: directory for runs paused at a rung (default: DB.checkpoints; the Slurm backend passes the "
                  "shared one)");
  run->add_option("--log-dir", o->runner.log_dir,
                  "write each run's epochs to DIR/<run key>.jsonl as they finish, one JSON object per line, flushed "
                  "per line (run key, epoch, lr, train and test loss/ppl/MAD acc/token acc, seconds)");
  run->callback([o] { run_run(*o); });

  CLI::App* status = sweep->add_subcommand(
      "status", "How many of a sweep's runs the database holds, by status; the latest Slurm submission's shards and jobs.\n"
                "Example: mad sweep status configs/sweeps/quick.yml --db runs/quick.db");
  status->add_option("spec", o->spec_file, "sweep spec (YAML)")->required();
  status->add_option("--db", o->runner.db, "results database")->required();
  status->add_option("--shard", o->shard, "only the i-th of N slices of the runs")->capture_default_str();
  status->callback([o] { run_status(*o); });
}

}  // namespace mad::cli
