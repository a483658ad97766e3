#include "sweeps/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_set>

#include "core/error.h"
#include "core/parallel.h"
#include "results/provenance.h"
#include "results/results_db.h"
#include "sweeps/train_run.h"

namespace mad::sweeps {
namespace {

using Clock = std::chrono::steady_clock;

// Workers write the database while others do: a writer waits up to a minute for the lock.
constexpr int kBusyTimeoutMs = 60'000;

volatile sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

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

// In the worker process: train, record, exit. Never returns; never touches the parent's connection.
[[noreturn]] void worker_main(const SweepSpec& spec, const PlannedRun& run, const RunnerOptions& options, pid_t runner) {
  // Die with the runner, so that a killed runner leaves no orphans training behind its back.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != runner) _exit(3);
  // Ctrl-C reaches the whole process group; the runner decides what happens to its workers.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_DFL);
  int code = 0;
  try {
    set_num_threads(options.threads_per_run);
    const results::RunRecord record = train_planned_run(spec, run, options.threads_per_run);
    results::ResultsDb::open(options.db, results::ResultsDb::Access::read_write, kBusyTimeoutMs).record_run(record);
  } catch (const std::exception& e) {
    code = 1;
    try {
      results::RunRecord failed = planned_record(spec, run, options.threads_per_run);
      failed.status = results::RunStatus::failed;
      failed.error = e.what();
      failed.provenance.finished_at = results::utc_timestamp();
      results::ResultsDb::open(options.db, results::ResultsDb::Access::read_write, kBusyTimeoutMs).record_run(failed);
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

class Runner {
 public:
  Runner(const SweepSpec& spec, std::span<const PlannedRun> runs, const RunnerOptions& options)
      : spec_(spec), runs_(runs), options_(options),
        db_(results::ResultsDb::open(options.db, results::ResultsDb::Access::read_write, kBusyTimeoutMs)),
        tty_(!options.quiet && isatty(STDERR_FILENO)) {
    MAD_CHECK(options.jobs >= 1, "--jobs must be at least 1, got {}", options.jobs);
    MAD_CHECK(options.threads_per_run >= 1, "--threads-per-run must be at least 1, got {}", options.threads_per_run);
    char host[256] = {};
    host_ = gethostname(host, sizeof(host) - 1) == 0 ? host : "unknown";
  }

  RunnerReport run() {
    StopSignals signals;
    start_ = Clock::now();
    report_.planned = static_cast<int64_t>(runs_.size());
    db_.record_sweep(spec_.name, spec_.document);
    if (!options_.quiet)
      std::fprintf(stderr, "sweep %s: %zu runs into %s, %d worker(s) x %d thread(s)\n", spec_.name.c_str(), runs_.size(),
                   options_.db.c_str(), options_.jobs, options_.threads_per_run);
    std::vector<const PlannedRun*> pending = runs_to_train();
    for (const PlannedRun* run : pending) remaining_flops_ += run->flops;

    size_t next = 0;
    auto last_progress = Clock::now() - std::chrono::seconds(10);
    while (!signals.stop() && (next < pending.size() || !active_.empty())) {
      while (!signals.stop() && active_.size() < static_cast<size_t>(options_.jobs) && next < pending.size())
        start(*pending[next++]);
      if (!reap_one() && !active_.empty()) usleep(100'000);  // interrupted at once by a signal
      if (tty_ && Clock::now() - last_progress > std::chrono::seconds(1)) {
        print_progress();
        last_progress = Clock::now();
      }
    }
    if (signals.stop()) stop_workers();
    report_.seconds = elapsed();
    if (tty_) std::fprintf(stderr, "\r\033[K");
    return report_;
  }

 private:
  struct Active {
    const PlannedRun* run;
    Clock::time_point started;
  };

  // The runs of the plan that have no final record; those that do join this sweep.
  std::vector<const PlannedRun*> runs_to_train() {
    const std::unordered_set<std::string> done = db_.completed_keys();
    const std::unordered_set<std::string> members = db_.completed_keys(spec_.name);
    std::vector<const PlannedRun*> out;
    for (const PlannedRun& run : runs_) {
      if (!done.contains(run.key)) {
        out.push_back(&run);
        continue;
      }
      if (!members.contains(run.key)) db_.add_to_sweep(spec_.name, run.key);
      ++report_.already_done;
    }
    return out;
  }

  bool holder_alive(const std::string& host, int64_t pid) const {
    if (host != host_) return !options_.reclaim;
    return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  }

  void start(const PlannedRun& run) {
    const results::RunRecord claim = planned_record(spec_, run, options_.threads_per_run);
    const auto result = db_.claim_run(claim, [this](const std::string& h, int64_t p) { return holder_alive(h, p); });
    if (result != results::ResultsDb::Claim::claimed) {
      ++(result == results::ResultsDb::Claim::done ? report_.already_done : report_.taken);
      remaining_flops_ -= run.flops;
      return;
    }
    std::fflush(nullptr);  // the worker must not print the runner's buffered output again
    const pid_t runner = getpid();
    const pid_t pid = fork();
    MAD_CHECK(pid >= 0, "cannot start a worker process: {}", std::strerror(errno));
    if (pid == 0) worker_main(spec_, run, options_, runner);
    active_.emplace(pid, Active{&run, Clock::now()});
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
    finish(*a.run, std::chrono::duration<double>(Clock::now() - a.started).count(), exit_text(status));
    return true;
  }

  // Reads what the worker recorded; records a failure when it recorded nothing.
  void finish(const PlannedRun& run, double seconds, const std::string& worker_exit) {
    remaining_flops_ -= run.flops;
    done_flops_ += run.flops;
    done_seconds_ += seconds;
    std::vector<results::StoredRun> stored = db_.runs(results::RunFilter{.key_prefix = run.key});
    results::RunStatus status = stored.empty() ? results::RunStatus::running : stored.front().run.status;
    std::string message = stored.empty() ? "" : stored.front().run.error;
    if (status == results::RunStatus::running) {
      record_failure(run, worker_exit);
      status = results::RunStatus::failed;
      message = worker_exit;
    }
    std::string outcome;
    switch (status) {
      case results::RunStatus::completed:
        ++report_.completed;
        outcome = fmt::format("test MAD acc {:.4f}", stored.front().run.final->test.acc);
        break;
      case results::RunStatus::diverged:
        ++report_.diverged;
        outcome = "diverged: " + message;
        break;
      default:
        ++report_.failed;
        outcome = "FAILED: " + message;
    }
    if (!options_.quiet) {
      const int64_t done = report_.completed + report_.diverged + report_.failed;
      const int64_t to_train = report_.planned - report_.already_done - report_.taken;
      std::fprintf(stderr, "%s[%lld/%lld] %s: %s (%s)\n", tty_ ? "\r\033[K" : "", static_cast<long long>(done),
                   static_cast<long long>(to_train), run_label(spec_, run).c_str(), outcome.c_str(),
                   duration_text(seconds).c_str());
    }
  }

  void record_failure(const PlannedRun& run, const std::string& error) {
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
      finish(*a.run, std::chrono::duration<double>(Clock::now() - a.started).count(),
             "interrupted (Ctrl-C or SIGTERM); running the sweep again retries it");
    }
    active_.clear();
  }

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Seconds left: the remaining work at the speed measured so far (the estimate's speed before any run
  // has finished), spread over the workers.
  double eta() const {
    const double seconds_per_flop =
        done_flops_ > 0 ? done_seconds_ / done_flops_ : estimated_seconds(1.0, options_.threads_per_run);
    return remaining_flops_ * seconds_per_flop / options_.jobs;
  }

  void print_progress() const {
    const int64_t done = report_.completed + report_.diverged + report_.failed;
    const int64_t to_train = report_.planned - report_.already_done - report_.taken;
    std::fprintf(stderr, "\r\033[Ksweep %s: %lld/%lld runs done, %zu running, %lld failed | %s elapsed | ETA %s",
                 spec_.name.c_str(), static_cast<long long>(done), static_cast<long long>(to_train), active_.size(),
                 static_cast<long long>(report_.failed), duration_text(elapsed()).c_str(), duration_text(eta()).c_str());
  }

  const SweepSpec& spec_;
  std::span<const PlannedRun> runs_;
  const RunnerOptions& options_;
  results::ResultsDb db_;
  bool tty_;
  std::string host_;
  std::map<pid_t, Active> active_;
  RunnerReport report_;
  Clock::time_point start_;
  double remaining_flops_ = 0, done_flops_ = 0, done_seconds_ = 0;
};

}  // namespace

RunnerReport run_sweep(const SweepSpec& spec, std::span<const PlannedRun> runs, const RunnerOptions& options) {
  return Runner(spec, runs, options).run();
}

}  // namespace mad::sweeps
