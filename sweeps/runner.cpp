#include "sweeps/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <unordered_set>

#include "core/error.h"
#include "core/parallel.h"
#include "results/provenance.h"
#include "results/results_db.h"
#include "sweeps/halving.h"
#include "sweeps/train_run.h"
#include "training/epoch_log.h"

namespace mad::sweeps {
namespace {

using Clock = std::chrono::steady_clock;

volatile sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

// The runner and its workers wait for the database lock past the busy timeout (saying so on stderr):
// a trained run is kept in memory until it is recorded, never recorded failed and trained again because
// another process held the lock. The runner gives up on Ctrl-C or SIGTERM; a worker ignores Ctrl-C and is
// killed by the runner then.
results::ResultsDb open_db(const RunnerOptions& options) {
  return results::ResultsDb::open(options.db, results::ResultsDb::Access::read_write,
                                  results::LockWait{.keep_waiting = [] { return g_stop_signal == 0; }});
}

// Installs the Ctrl-C / SIGTERM handler for the runner's lifetime (no SA_RESTART: a sleep returns at once).
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction action = {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  bool stop() const { return g_stop_signal != 0; }

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string run_label(const SweepSpec& spec, const PlannedRun& run) {
  return fmt::format("{} on {} lr={} wd={}", spec.architectures[run.architecture].name, setting_label(run.settings),
                     run.training.lr, run.training.weight_decay);
}

// What a worker is given: the run, the stretch to train and where the run stands.
struct Job {
  const PlannedRun* run = nullptr;
  Segment segment;
};

// In the worker process: train, record, exit. Never returns; never touches the parent's connection.
[[noreturn]] void worker_main(const SweepSpec& spec, const Job& job, const RunnerOptions& options, pid_t runner) {
  // Die with the runner, so that a killed runner leaves no orphans training behind its back.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != runner) _exit(3);
  // Ctrl-C reaches the whole process group; the runner decides what happens to its workers.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  const PlannedRun& run = *job.run;
  int code = 0;
  try {
    set_num_threads(options.threads_per_run);
    std::optional<EpochLog> log;
    if (!options.log_dir.empty()) log.emplace((std::filesystem::path(options.log_dir) / (run.key + ".jsonl")).string(), run.key);
    const results::RunRecord record =
        train_segment(spec, run, options.threads_per_run, job.segment, log ? &*log : nullptr);
    open_db(options).record_run(record);
    // An ended run needs its checkpoint no more.
    std::error_code ignored;
    if (results::is_final(record.status) && !job.segment.checkpoint.empty())
      std::filesystem::remove(job.segment.checkpoint, ignored);
  } catch (const std::exception& e) {
    code = 1;
    try {
      // The run keeps the epochs it had (a run resumed from a rung resumes from it again).
      results::ResultsDb db = open_db(options);
      if (!db.update_status(run.key, results::RunStatus::failed, e.what())) {
        results::RunRecord failed = planned_record(spec, run, options.threads_per_run);
        failed.status = results::RunStatus::failed;
        failed.error = e.what();
        failed.provenance.finished_at = results::utc_timestamp();
        db.record_run(failed);
      }
    } catch (const std::exception& e2) {
      std::fprintf(stderr, "\nmad: run %s: %s; recording it failed too: %s\n", run.key.substr(0, 12).c_str(), e.what(),
                   e2.what());
      code = 2;
    }
  }
  std::fflush(nullptr);
  _exit(code);
}

std::string exit_text(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return fmt::format("the worker was killed by signal {} ({}){}", sig, strsignal(sig),
                       sig == SIGKILL ? "; out of memory?" : "");
  }
  return fmt::format("the worker exited with status {} without recording the run", WEXITSTATUS(status));
}

// One architecture's runs on one task setting: the unit of the search's decisions.
struct Bracket {
  std::vector<size_t> runs;  // indices into the runner's runs, in plan order
  std::vector<std::optional<results::RunState>> state;  // per run, as last read from the database
  std::vector<HalvingStep> steps;                       // per run, from state
  bool dirty = true;                                    // state must be read again
  double remaining_flops = 0;                           // at most, without early stopping
};

class Runner {
 public:
  Runner(const SweepSpec& spec, std::span<const PlannedRun> runs, const RunnerOptions& options)
      : spec_(spec), runs_(runs), options_(options),
        db_(open_db(options)),
        tty_(!options.quiet && isatty(STDERR_FILENO)), checkpoints_(checkpoint_dir(options)) {
    MAD_CHECK(options.jobs >= 1, "--jobs must be at least 1, got {}", options.jobs);
    MAD_CHECK(options.threads_per_run >= 1, "--threads-per-run must be at least 1, got {}", options.threads_per_run);
    if (!options.log_dir.empty()) {  // before any worker: a bad directory is one error, not one per run
      std::error_code error;
      std::filesystem::create_directories(options.log_dir, error);
      MAD_CHECK(!error && access(options.log_dir.c_str(), W_OK) == 0,
                "--log-dir {}: cannot create or write the directory ({}); give a writable directory", options.log_dir,
                error ? error.message() : std::strerror(errno));
    }
    char host[256] = {};
    host_ = gethostname(host, sizeof(host) - 1) == 0 ? host : "unknown";
    std::map<size_t, size_t> index_of;  // plan bracket -> index into brackets_
    for (size_t i = 0; i < runs_.size(); ++i) {
      const auto [it, added] = index_of.emplace(runs_[i].bracket, brackets_.size());
      if (added) brackets_.emplace_back();
      brackets_[it->second].runs.push_back(i);
      bracket_of_.push_back(it->second);
    }
    const size_t grid = spec.lrs.size() * spec.weight_decays.size();
    for (const Bracket& b : brackets_) {
      MAD_CHECK(!halving() || b.runs.size() == grid,
                "halving decides among all {} runs of a setting's grid, but {} of them are here for {}; give whole "
                "brackets (--shard and the Slurm backend do; a --only-keys file must list every run of a setting)",
                grid, b.runs.size(), run_label(spec_, runs_[b.runs.front()]));
    }
  }

  RunnerReport run() {
    StopSignals signals;
    start_ = Clock::now();
    report_.planned = static_cast<int64_t>(runs_.size());
    db_.record_sweep(spec_.name, spec_.document);
    if (!options_.quiet)
      std::fprintf(stderr, "sweep %s: %zu runs into %s, %d worker(s) x %d thread(s)%s\n", spec_.name.c_str(),
                   runs_.size(), options_.db.c_str(), options_.jobs, options_.threads_per_run,
                   halving() ? fmt::format(", successive halving at epochs {}", fmt::join(spec_.search.rungs, ", ")).c_str()
                             : "");
    if (halving()) std::filesystem::create_directories(checkpoints_);
    refresh_all(true);

    auto last_progress = Clock::now() - std::chrono::seconds(10);
    auto last_poll = Clock::now();
    while (!signals.stop()) {
      refresh_all(false);
      const bool started = start_jobs(signals);
      const bool reaped = reap_one();
      const bool any_dirty = std::any_of(brackets_.begin(), brackets_.end(), [](const Bracket& b) { return b.dirty; });
      if (active_.empty() && !started && !reaped && !any_dirty) {
        if (held_elsewhere_.empty()) break;  // nothing left that this runner can do or wait for
        if (Clock::now() - last_poll > kPollInterval) {
          // Runs another runner holds: look again (it may have finished them, or died).
          for (size_t i : held_elsewhere_) brackets_[bracket_of_[i]].dirty = true;
          held_elsewhere_.clear();
          last_poll = Clock::now();
        }
      }
      if (!reaped) usleep(100'000);  // interrupted at once by a signal
      if (tty_ && Clock::now() - last_progress > std::chrono::seconds(1)) {
        print_progress();
        last_progress = Clock::now();
      }
    }
    if (signals.stop()) stop_workers();
    std::error_code ignored;
    if (halving()) std::filesystem::remove(checkpoints_, ignored);  // only if empty: no run is paused
    report_.seconds = elapsed();
    if (tty_) std::fprintf(stderr, "\r\033[K");
    return report_;
  }

 private:
  static constexpr auto kPollInterval = std::chrono::seconds(2);

  struct Active {
    Job job;
    Clock::time_point started;
  };

  bool halving() const { return spec_.search.halving(); }

  std::filesystem::path checkpoint_of(const PlannedRun& run) const {
    return halving() ? checkpoints_ / (run.key + ".ckpt") : std::filesystem::path();
  }

  // Reads the dirty brackets' runs and recomputes their steps. The first time, runs that are done
  // already (ended, or pruned as the search decides) are counted and join the sweep.
  void refresh_all(bool first) {
    const std::unordered_set<std::string> members = first ? db_.completed_keys(spec_.name) : std::unordered_set<std::string>{};
    for (Bracket& b : brackets_) {
      if (!b.dirty) continue;
      refresh(b);
      if (!first) continue;
      for (size_t j = 0; j < b.runs.size(); ++j) {
        const PlannedRun& run = runs_[b.runs[j]];
        if (!b.state[j] || !search_finished(b.steps[j], b.state[j])) continue;
        ++report_.already_done;
        if (!members.contains(run.key)) db_.add_to_sweep(spec_.name, run.key);
      }
    }
  }

  void refresh(Bracket& b) {
    b.state.clear();
    std::vector<BracketRun> progress;
    for (size_t i : b.runs) {
      b.state.push_back(db_.run_state(runs_[i].key, halving()));
      progress.push_back(bracket_run(runs_[i].key, b.state.back()));
    }
    b.steps = halving_steps(progress, spec_.search, spec_.epochs);
    const double per_epoch = runs_[b.runs.front()].epoch_flops;
    b.remaining_flops = per_epoch * static_cast<double>(remaining_epochs(progress, spec_.search, spec_.epochs));
    b.dirty = false;
  }

  double remaining_flops() const {
    double sum = 0;
    for (const Bracket& b : brackets_) sum += b.remaining_flops;
    return sum;
  }

  bool holder_alive(const std::string& host, int64_t pid) const {
    if (host != host_) return !options_.reclaim;
    return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  }

  // Records the brackets' pruned runs and starts workers on runs to train, in plan order, while workers
  // are free. Returns whether anything was started or pruned.
  bool start_jobs(const StopSignals& signals) {
    bool acted = false;
    for (Bracket& b : brackets_) {
      for (size_t j = 0; j < b.runs.size() && !b.dirty; ++j) {
        const size_t i = b.runs[j];
        const HalvingStep& step = b.steps[j];
        // A run whose worker has not been reaped yet is left alone: it is read again once it has been.
        if (active_runs_.contains(i)) continue;
        if (step.action == HalvingStep::Action::prune) acted = prune(b, j) || acted;
        if (step.action != HalvingStep::Action::train || given_up_.contains(i) || held_elsewhere_.contains(i)) continue;
        if (signals.stop() || active_.size() >= static_cast<size_t>(options_.jobs)) return acted;
        acted = start(b, j) || acted;
      }
    }
    return acted;
  }

  bool prune(Bracket& b, size_t j) {
    const std::optional<results::RunState>& state = b.state[j];
    if (state && state->status == results::RunStatus::pruned) return false;
    const PlannedRun& run = runs_[b.runs[j]];
    const HalvingStep& step = b.steps[j];
    if (state && state->status == results::RunStatus::running && holder_alive(state->host, state->pid)) {
      held_elsewhere_.insert(b.runs[j]);  // someone trains it on (another search): wait for it
      return false;
    }
    const std::string reason = fmt::format("pruned at rung {}: rank {} of {} by test MAD accuracy (docs/sweeps.md)",
                                           step.rung, step.rank, step.of);
    b.dirty = true;
    if (!db_.update_status(run.key, results::RunStatus::pruned, reason)) return true;
    db_.add_to_sweep(spec_.name, run.key);
    std::error_code ignored;
    std::filesystem::remove(checkpoint_of(run), ignored);
    ++report_.pruned;
    print_outcome(run, fmt::format("pruned at rung {} (rank {} of {})", step.rung, step.rank, step.of), std::nullopt);
    return true;
  }

  bool start(Bracket& b, size_t j) {
    const size_t i = b.runs[j];
    const PlannedRun& run = runs_[i];
    const results::RunRecord claim = planned_record(spec_, run, options_.threads_per_run);
    const auto result = db_.claim_run(claim, [this](const std::string& h, int64_t p) { return holder_alive(h, p); });
    if (result != results::ResultsDb::Claim::claimed) {
      b.dirty = true;
      if (result == results::ResultsDb::Claim::done) {
        ++report_.already_done;
      } else if (halving()) {
        if (seen_held_.insert(i).second) ++report_.taken;
        held_elsewhere_.insert(i);  // the rung's decision needs it: look again later
      } else {
        ++report_.taken;
        given_up_.insert(i);  // left to the runner that holds it
      }
      return false;
    }
    Job job{&run, Segment{b.steps[j].target, checkpoint_of(run), 0, ""}};
    if (const std::optional<results::RunState>& state = b.state[j]) {
      job.segment.prior_cpu_seconds = state->cpu_seconds.value_or(0);
      if (!state->epochs.empty()) job.segment.started_at = state->started_at;
      epochs_before_[i] = state->epochs.empty() ? 0 : state->epochs.back().epoch;
    } else {
      epochs_before_[i] = 0;
    }
    std::fflush(nullptr);  // the worker must not print the runner's buffered output again
    const pid_t runner = getpid();
    const pid_t pid = fork();
    MAD_CHECK(pid >= 0, "cannot start a worker process: {}", std::strerror(errno));
    if (pid == 0) worker_main(spec_, job, options_, runner);
    active_.emplace(pid, Active{job, Clock::now()});
    active_runs_.insert(i);
    return true;
  }

  // Waits for no worker: handles one that has ended, if any. Returns whether one had.
  bool reap_one() {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return false;
    const auto it = active_.find(pid);
    if (it == active_.end()) return true;
    const Active a = it->second;
    active_.erase(it);
    finish(a.job, std::chrono::duration<double>(Clock::now() - a.started).count(), exit_text(status));
    return true;
  }

  size_t index_of(const PlannedRun& run) const { return static_cast<size_t>(&run - runs_.data()); }

  // Reads what the worker recorded; records a failure when it recorded nothing.
  void finish(const Job& job, double seconds, const std::string& worker_exit) {
    const PlannedRun& run = *job.run;
    const size_t i = index_of(run);
    active_runs_.erase(i);
    brackets_[bracket_of_[i]].dirty = true;
    std::optional<results::RunState> state = db_.run_state(run.key, true);
    results::RunStatus status = state ? state->status : results::RunStatus::running;
    std::string message;
    if (status == results::RunStatus::running) {
      record_failure(run, worker_exit);
      status = results::RunStatus::failed;
      message = worker_exit;
    } else if (status == results::RunStatus::failed || status == results::RunStatus::diverged) {
      const std::vector<results::StoredRun> stored = db_.runs(results::RunFilter{.key_prefix = run.key});
      if (!stored.empty()) message = stored.front().run.error;
    }
    const int64_t trained = state && !state->epochs.empty() ? state->epochs.back().epoch - epochs_before_[i] : 0;
    if (trained > 0) {
      done_flops_ += static_cast<double>(trained) * run.epoch_flops;
      done_seconds_ += seconds;
    }
    std::optional<double> acc;
    if (state && !state->epochs.empty()) {
      const int64_t best = reported_epoch_index(state->epochs, state->epochs.back().epoch);
      acc = state->epochs[static_cast<size_t>(best)].test.acc;
    }
    std::string outcome;
    switch (status) {
      case results::RunStatus::completed:
        ++report_.completed;
        outcome = fmt::format("test MAD acc {:.4f}", acc.value_or(std::nan("")));
        break;
      case results::RunStatus::paused:
      case results::RunStatus::pruned:  // paused here, then pruned by another runner's decision
        ++report_.paused;
        outcome = fmt::format("paused at epoch {} (test MAD acc so far {:.4f})", state->epochs.back().epoch,
                              acc.value_or(std::nan("")));
        break;
      case results::RunStatus::diverged:
        ++report_.diverged;
        outcome = "diverged: " + message;
        break;
      default:
        ++report_.failed;
        given_up_.insert(i);  // not retried by this runner; running the sweep again does
        outcome = "FAILED: " + message;
    }
    print_outcome(run, outcome, seconds);
  }

  void print_outcome(const PlannedRun& run, const std::string& outcome, std::optional<double> seconds) {
    if (options_.quiet) return;
    const int64_t done = report_.completed + report_.diverged + report_.pruned + report_.failed;
    const int64_t to_do = report_.planned - report_.already_done - (halving() ? 0 : report_.taken);
    std::fprintf(stderr, "%s[%lld/%lld] %s: %s%s\n", tty_ ? "\r\033[K" : "", static_cast<long long>(done),
                 static_cast<long long>(to_do), run_label(spec_, run).c_str(), outcome.c_str(),
                 seconds ? fmt::format(" ({})", duration_text(*seconds)).c_str() : "");
  }

  // The run keeps its epochs: a run that failed after a rung resumes from that rung.
  void record_failure(const PlannedRun& run, const std::string& error) {
    if (db_.update_status(run.key, results::RunStatus::failed, error)) return;
    results::RunRecord failed = planned_record(spec_, run, options_.threads_per_run);
    failed.status = results::RunStatus::failed;
    failed.error = error;
    failed.provenance.finished_at = results::utc_timestamp();
    db_.record_run(failed);
  }

  void stop_workers() {
    report_.interrupted = true;
    for (const auto& [pid, a] : active_) kill(pid, SIGKILL);
    for (const auto& [pid, a] : active_) {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      finish(a.job, std::chrono::duration<double>(Clock::now() - a.started).count(),
             "interrupted (Ctrl-C or SIGTERM); running the sweep again retries it");
    }
    active_.clear();
  }

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Seconds left: the remaining work at the speed measured so far (the estimate's speed before any
  // stretch has finished), spread over the workers, less the time the running stretches have already
  // trained: the remaining work counts them whole until they finish, and without this the ETA stood
  // still between two finished runs.
  double eta() const {
    const double seconds_per_flop =
        done_flops_ > 0 ? done_seconds_ / done_flops_ : estimated_seconds(1.0, options_.threads_per_run);
    double running = 0;
    for (const auto& [pid, a] : active_) running += std::chrono::duration<double>(Clock::now() - a.started).count();
    return std::max(0.0, remaining_flops() * seconds_per_flop - running) / options_.jobs;
  }

  void print_progress() const {
    const int64_t done = report_.completed + report_.diverged + report_.pruned + report_.failed;
    const int64_t to_do = report_.planned - report_.already_done - (halving() ? 0 : report_.taken);
    std::fprintf(stderr, "\r\033[Ksweep %s: %lld/%lld runs done, %zu running, %lld failed%s | %s elapsed | ETA %s",
                 spec_.name.c_str(), static_cast<long long>(done), static_cast<long long>(to_do), active_.size(),
                 static_cast<long long>(report_.failed),
                 held_elsewhere_.empty() ? "" : fmt::format(", waiting for {} held elsewhere", held_elsewhere_.size()).c_str(),
                 duration_text(elapsed()).c_str(), duration_text(eta()).c_str());
  }

  const SweepSpec& spec_;
  std::span<const PlannedRun> runs_;
  const RunnerOptions& options_;
  results::ResultsDb db_;
  bool tty_;
  std::filesystem::path checkpoints_;
  std::string host_;
  std::vector<Bracket> brackets_;
  std::vector<size_t> bracket_of_;            // run index -> index into brackets_
  std::map<pid_t, Active> active_;
  std::unordered_set<size_t> active_runs_;    // run indices being trained here
  std::unordered_set<size_t> given_up_;       // failed here, or (grid) left to another runner
  std::unordered_set<size_t> held_elsewhere_;  // halving: held by another runner at the last look
  std::unordered_set<size_t> seen_held_;
  std::map<size_t, int64_t> epochs_before_;   // run index -> epochs it had when its worker started
  RunnerReport report_;
  Clock::time_point start_;
  double done_flops_ = 0, done_seconds_ = 0;
};

}  // namespace

std::string checkpoint_dir(const RunnerOptions& options) {
  return options.checkpoints.empty() ? options.db + ".checkpoints" : options.checkpoints;
}

RunnerReport run_sweep(const SweepSpec& spec, std::span<const PlannedRun> runs, const RunnerOptions& options) {
  return Runner(spec, runs, options).run();
}

}  // namespace mad::sweeps
