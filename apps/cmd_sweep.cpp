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
#include <set>

#include "apps/commands.h"
#include "config/canonical.h"
#include "results/results_db.h"
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
  bool json = false;
  sweeps::RunnerOptions runner;
  sweeps::SlurmOptions slurm;
};

// The runs `mad sweep run` and `mad sweep status` work on: the plan, restricted to a keys file, sharded.
std::vector<sweeps::PlannedRun> selected_runs(const SweepOptions& o, const std::vector<sweeps::PlannedRun>& all) {
  const std::vector<sweeps::PlannedRun> listed = o.only_keys.empty() ? all : sweeps::only_keys(all, o.only_keys);
  return sweeps::shard_of(listed, sweeps::parse_shard(o.shard));
}

int cores() { return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN))); }

std::string hours_text(double seconds) {
  if (seconds < 3600) return fmt::format("{:.0f} min", std::max(1.0, seconds / 60));
  return fmt::format("{:.1f} h", seconds / 3600);
}

void run_plan(const SweepOptions& o) {
  const sweeps::SweepSpec spec = sweeps::load_sweep(o.spec_file);
  const std::vector<sweeps::PlannedRun> all = sweeps::plan_sweep(spec);
  const std::vector<sweeps::PlannedRun> runs = sweeps::shard_of(all, sweeps::parse_shard(o.shard));
  const int threads = o.runner.threads_per_run;
  const int jobs = std::max(1, o.runner.jobs > 0 ? o.runner.jobs : cores() / threads);

  // Per task: settings, runs and estimated seconds (one worker).
  struct TaskLine {
    std::set<std::string> settings;
    int64_t runs = 0;
    double seconds = 0;
  };
  std::map<std::string, TaskLine> per_task;
  std::vector<std::string> task_order;
  double total_seconds = 0;
  for (const sweeps::PlannedRun& run : runs) {
    const std::string task(tasks::task_info(run.settings.task).name);
    if (!per_task.contains(task)) task_order.push_back(task);
    TaskLine& line = per_task[task];
    line.settings.insert(config::canonical(tasks::to_config(run.settings)));
    ++line.runs;
    const double seconds = sweeps::estimated_seconds(run.flops, threads);
    line.seconds += seconds;
    total_seconds += seconds;
  }

  if (o.json) {
    config::Value out = config::Value::map();
    out.set("sweep", spec.name);
    out.set("runs", config::Value(static_cast<int64_t>(runs.size())));
    out.set("runs_in_sweep", config::Value(static_cast<int64_t>(all.size())));
    out.set("estimated_seconds", total_seconds);
    out.set("jobs", config::Value(jobs));
    config::Value task_map = config::Value::map();
    for (const std::string& task : task_order) {
      config::Value t = config::Value::map();
      t.set("settings", config::Value(static_cast<int64_t>(per_task[task].settings.size())));
      t.set("runs", config::Value(per_task[task].runs));
      t.set("estimated_seconds", per_task[task].seconds);
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
    fmt::print("{:<20} {:<56} {:>10} {:>10}{}\n", a.name, models::arch_summary(a.spec), d.params, d.total_state,
               d.fixed_state ? "" : " (grows with L)");
  }
  fmt::print("(params without embeddings and state floats per sequence, at {})\n",
             sweeps::setting_label(spec.settings.front()));
  fmt::print("\n{:<26} {:>9} {:>7} {:>14}\n", "task", "settings", "runs", "estimate");
  for (const std::string& task : task_order)
    fmt::print("{:<26} {:>9} {:>7} {:>14}\n", task, per_task[task].settings.size(), per_task[task].runs,
               hours_text(per_task[task].seconds));
  fmt::print("\ntotal: {} runs, about {} of training at {} thread(s) per run; {} with {} worker(s)\n", runs.size(),
             hours_text(total_seconds), threads, hours_text(total_seconds / jobs), jobs);
  fmt::print("(every run for all {} epochs: early stopping at test accuracy > 0.999 shortens many; per-run overheads\n"
             " such as data generation and evaluation lengthen tiny runs)\n",
             spec.epochs);
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
  const std::vector<sweeps::PlannedRun> runs = selected_runs(o, all);
  MAD_CHECK(o.backend == "local" || o.backend == "slurm", "--backend {}: use local or slurm", o.backend);
  // A new database may go into a new directory (e.g. runs/quick.db).
  const std::filesystem::path db_dir = std::filesystem::path(o.runner.db).parent_path();
  std::error_code ignored;
  if (!db_dir.empty()) std::filesystem::create_directories(db_dir, ignored);
  if (o.backend == "slurm") return run_slurm(o, spec, runs);
  if (o.runner.jobs <= 0) o.runner.jobs = std::max(1, cores() / o.runner.threads_per_run);
  const sweeps::RunnerReport r = sweeps::run_sweep(spec, runs, o.runner);
  fmt::print("sweep {}{}: {} runs: {} trained ({} completed, {} diverged), {} failed, {} already done, {} left to another "
             "runner; {:.0f} s\n",
             spec.name, runs.size() == all.size() ? "" : fmt::format(" (shard {} of {} runs)", o.shard, all.size()),
             r.planned, r.completed + r.diverged, r.completed, r.diverged, r.failed, r.already_done, r.taken,
             r.seconds);
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
  const std::vector<sweeps::PlannedRun> runs = selected_runs(o, sweeps::plan_sweep(spec));
  std::map<std::string, std::string> status_of;  // key -> status
  if (std::filesystem::exists(o.runner.db)) {
    results::ResultsDb db = results::ResultsDb::open(o.runner.db, results::ResultsDb::Access::read_only);
    for (const results::StoredRun& r : db.runs()) status_of[r.key] = std::string(results::status_name(r.run.status));
  }
  std::map<std::string, int64_t> counts;
  for (const sweeps::PlannedRun& run : runs) {
    const auto it = status_of.find(run.key);
    ++counts[it == status_of.end() ? "missing" : it->second];
  }
  std::vector<std::string> parts;
  for (const char* status : {"completed", "diverged", "failed", "running", "missing"})
    parts.push_back(fmt::format("{} {}", counts[status], status));
  fmt::print("sweep {}: {} runs in {}: {}\n", spec.name, runs.size(), o.runner.db, fmt::join(parts, ", "));

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
  plan->add_option("--jobs", o->runner.jobs, "workers the time estimate assumes (default: cores / threads per run)");
  plan->add_option("--threads-per-run", o->runner.threads_per_run, "threads of each run")->capture_default_str();
  plan->add_flag("--json", o->json, "print the plan as one JSON object");
  plan->callback([o] { run_plan(*o); });

  CLI::App* run = sweep->add_subcommand(
      "run", "Run a sweep into a SQLite results database. Runs already recorded are skipped, so running the\n"
             "same command again resumes an interrupted sweep; concurrent runners share the database safely.\n"
             "Example: mad sweep run configs/sweeps/quick.yml --db quick.db && mad scores --db quick.db");
  run->add_option("spec", o->spec_file, "sweep spec (YAML)")->required();
  run->add_option("--db", o->runner.db, "results database (created when missing)")->required();
  run->add_option("--jobs", o->runner.jobs, "runs trained at once, each in its own process (default: cores / threads per run)");
  run->add_option("--threads-per-run", o->runner.threads_per_run, "threads of each run")->capture_default_str();
  run->add_option("--shard", o->shard, "run only the i-th of N deterministic slices of the runs (one per machine), e.g. 2/8")
      ->capture_default_str();
  run->add_option("--only-keys", o->only_keys, "train only the runs whose keys FILE lists, one per line (Slurm tasks use it)");
  run->add_option("--backend", o->backend, "local: worker processes on this machine; slurm: a job array and a merge job")
      ->capture_default_str();
  run->add_option("--array-size", o->slurm.array_size, "slurm: array tasks (default: one per 4 missing runs, at most 1000)");
  run->add_option("--cpus-per-task", o->slurm.cpus_per_task, "slurm: cpus of each array task = runs it trains at once")
      ->capture_default_str();
  run->add_option("--partition", o->slurm.partition, "slurm: partition (default: the cluster's default)");
  run->add_option("--time", o->slurm.time, "slurm: time limit of each array task, e.g. 04:00:00");
  run->add_flag("--dry-run", [o](int64_t) { o->slurm.submit = false; }, "slurm: write the job scripts, submit nothing");
  run->add_flag("--reclaim", o->runner.reclaim,
                "retry runs left 'running' by a runner on another host (use when that host died)");
  run->add_flag("--quiet", o->runner.quiet, "no progress output");
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
