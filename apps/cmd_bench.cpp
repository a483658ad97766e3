// `mad bench`: times full training steps of the canonical MAD models (bench/step_bench.h) and prints ms per
// step, tokens/s, GFLOP/s, the ratio to the measured matrix-multiply peak and the peak memory.
//
// With several workloads, each runs in a child process (this executable with --workloads NAME) so that
// every peak RSS figure is that workload's own, not the maximum of everything measured before it.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "bench/step_bench.h"
#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/precision.h"
#include "core/parallel.h"

namespace mad::cli {
namespace {

struct BenchOptions {
  int threads = 1;
  int steps = 5;
  int warmup = 2;
  int64_t batch = 0;  // 0: the workload's (128)
  std::vector<std::string> workloads;
  std::vector<std::string> arch_files;  // --arch: architecture spec files, each timed at the selected shapes
  bool json = false;
  bool profile = false;
  double gemm_peak = 0;  // GFLOP/s; 0: measure it
  bool child = false;    // a child run: no header, no peak measurement
  std::string precision = "f32";  // f32 | bf16 (kernels/precision.h)
};

// NAME selects the workload called NAME; NAME* every workload whose name starts with NAME. Without
// filters: the MAD transformer at every shape and every layer alone at L = 128 (all layers at every shape
// would take hours).
bool selected(const std::string& name, const std::vector<std::string>& filters) {
  if (filters.empty()) return name.find('/') == std::string::npos || name.starts_with("icr-128/");
  for (const std::string& f : filters) {
    if (!f.empty() && f.back() == '*' ? name.starts_with(f.substr(0, f.size() - 1)) : name == f) return true;
  }
  return false;
}

void print_header(const BenchOptions& o) {
  if (o.json) return;
  fmt::print("mad bench: training steps (forward, backward, AdamW), precision {}, {} thread(s), isa={}, "
             "matrix-multiply peak {:.1f} GFLOP/s (measured, float32), median of {} steps after {} warm-up\n",
             o.precision, o.threads, kernels::isa_summary(), o.gemm_peak, o.steps, o.warmup);
  fmt::print("{:<28} {:>11} {:>11} {:>9} {:>9} {:>7} {:>10} {:>9} {:>9} {:>6} {:>15}\n", "workload", "ms/step", "tokens/s",
             "GFLOP", "GFLOP/s", "% peak", "peak MiB", "CPU ms", "main CPU", "load", "isa/precision");
}

// Op times per step, largest first, as shares of the mean step (the op times are sums over all timed
// steps, so the mean, not the median, is their denominator).
void print_profile(const OpProfile& p, const bench::StepTiming& t) {
  struct Row {
    const char* name;
    double fwd, bwd;
    int64_t calls;
  };
  const auto steps = static_cast<double>(t.step_ms.size());
  double mean_step = 0;
  for (double ms : t.step_ms) mean_step += ms / steps;
  std::vector<Row> rows;
  double total = 0;
  for (size_t op = 0; op < static_cast<size_t>(kNumOps); ++op) {
    if (p.forward_calls[op] == 0 && p.backward_calls[op] == 0) continue;
    const double f = 1e3 * p.forward_seconds[op] / steps, b = 1e3 * p.backward_seconds[op] / steps;
    rows.push_back({op_name(static_cast<OpId>(op)), f, b, static_cast<int64_t>(static_cast<double>(p.forward_calls[op]) / steps)});
    total += f + b;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.fwd + a.bwd > b.fwd + b.bwd; });
  fmt::print("  {:<16} {:>6} {:>10} {:>10} {:>10} {:>7}   (mean step {:.1f} ms)\n", "op", "calls", "fwd ms", "bwd ms",
             "total ms", "% step", mean_step);
  for (const Row& r : rows)
    fmt::print("  {:<16} {:>6} {:>10.1f} {:>10.1f} {:>10.1f} {:>6.1f}%\n", r.name, r.calls, r.fwd, r.bwd, r.fwd + r.bwd,
               100 * (r.fwd + r.bwd) / mean_step);
  const double other = mean_step - total - t.optimizer_mean_ms;
  fmt::print("  {:<16} {:>6} {:>10} {:>10} {:>10.1f} {:>6.1f}%\n", "adamw", 1, "", "", t.optimizer_mean_ms,
             100 * t.optimizer_mean_ms / mean_step);
  fmt::print("  {:<16} {:>6} {:>10} {:>10} {:>10.1f} {:>6.1f}%   (zero_grad, tape reset, gradient zero-fill)\n",
             "other", "", "", "", other, 100 * other / mean_step);
}

// The 1-minute load average (/proc/loadavg): how busy the machine was, printed with every figure.
double load_average() {
  double load = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

void run_one(const bench::Workload& w, const BenchOptions& o) {
  OpProfile profile;
  const bench::StepTiming t = bench::time_steps(w, o.steps, o.warmup, o.profile ? &profile : nullptr);
  const double gflops = t.flops / (t.median_ms * 1e6);
  const double tokens_per_s = static_cast<double>(w.tokens()) / (t.median_ms * 1e-3);
  const double ratio = o.gemm_peak > 0 ? gflops / o.gemm_peak : 0;
  if (o.json) {
    fmt::print("{{\"workload\": \"{}\", \"implementation\": \"madcpp\", \"threads\": {}, \"batch\": {}, \"length\": {}, "
               "\"steps\": {}, \"ms_per_step\": {:.3f}, \"tokens_per_s\": {:.1f}, \"gflop_per_step\": {:.4f}, "
               "\"gflops_per_s\": {:.3f}, \"gemm_peak_gflops\": {:.3f}, \"peak_ratio\": {:.4f}, \"peak_rss_mb\": {:.1f}, "
               "\"arena_mb\": {:.1f}, \"params\": {}, \"cpu_ms_per_step\": {:.3f}, \"main_thread_cpu_ms_per_step\": {:.3f}, "
               "\"load_average\": {:.2f}, \"isa\": \"{}\", \"precision\": \"{}\"}}\n",
               w.name, o.threads, w.batch, w.length, o.steps, t.median_ms, tokens_per_s, t.flops * 1e-9, gflops,
               o.gemm_peak, ratio, bench::peak_rss_mb(), static_cast<double>(t.arena_bytes) / (1 << 20), t.params,
               t.median_cpu_ms, t.median_main_thread_cpu_ms, load_average(), kernels::isa_name(kernels::active_isa()),
               o.precision);
  } else {
    fmt::print("{:<28} {:>11.1f} {:>11.0f} {:>9.2f} {:>9.1f} {:>6.1f}% {:>10.0f} {:>9.1f} {:>9.1f} {:>6.1f} {:>15}\n",
               w.name, t.median_ms, tokens_per_s, t.flops * 1e-9, gflops, 100 * ratio, bench::peak_rss_mb(),
               t.median_cpu_ms, t.median_main_thread_cpu_ms, load_average(),
               fmt::format("{}/{}", kernels::isa_name(kernels::active_isa()), o.precision));
  }
  if (o.profile && !o.json) print_profile(profile, t);
  std::fflush(stdout);
}

void run_bench(BenchOptions& o) {
  set_num_threads(o.threads);
  // The peak stays float32's (measured before the mode is set), so % peak shows what bf16 gains.
  const kernels::Precision precision = kernels::precision_from_name(o.precision);
  MAD_CHECK(o.steps >= 1 && o.warmup >= 0, "--steps must be >= 1 and --warmup >= 0, got {} and {}", o.steps, o.warmup);
  MAD_CHECK(o.batch >= 0, "--batch must be positive (0: the protocol's 128), got {}", o.batch);
  std::vector<bench::Workload> all = bench::canonical_workloads();
  // --arch FILE: the file's architecture at every shape, as "SHAPE/@STEM"; alone, it is timed at icr-128.
  const size_t canonical = all.size();
  for (const std::string& file : o.arch_files)
    for (size_t i = 0; i < canonical; ++i)
      if (all[i].name.find('/') == std::string::npos) all.push_back(bench::arch_workload(all[i], file));
  std::vector<std::string> filters = o.workloads;
  if (filters.empty() && !o.arch_files.empty()) filters = {"icr-128/@*"};
  std::vector<bench::Workload> chosen;
  for (bench::Workload w : all)
    if (selected(w.name, filters)) {
      if (o.batch > 0) w.batch = o.batch;
      chosen.push_back(w);
    }
  if (chosen.empty()) {
    std::string names;
    for (const bench::Workload& w : all) names += " " + w.name;
    fail("--workloads selects nothing; the workloads are:" + names + " (NAME* selects by prefix, '*' all)");
  }
  if (o.gemm_peak <= 0) o.gemm_peak = bench::measure_gemm_peak_gflops();
  if (!o.child) print_header(o);
  if (chosen.size() == 1 || o.child) {
    const kernels::PrecisionScope scope(precision);
    for (const bench::Workload& w : chosen) run_one(w, o);
    return;
  }
  // One child process per workload: its peak RSS is its own. (/proc/self/exe is resolved here: inside the
  // shell that std::system starts it would name the shell.)
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  for (const bench::Workload& w : chosen) {
    const std::string arch = w.arch_file.empty() ? "" : fmt::format(" --arch '{}'", w.arch_file);
    // --batch only when given: the child's option accepts 1 and more, and 0 means "the workload's".
    const std::string batch = o.batch > 0 ? fmt::format(" --batch {}", o.batch) : "";
    const std::string cmd = fmt::format("'{}' bench --child --workloads '{}' --threads {} --steps {} --warmup {}"
                                        "{} --gemm-peak {} --precision {}{}{}{}",
                                        self, w.name, o.threads, o.steps, o.warmup, batch, o.gemm_peak, o.precision,
                                        arch, o.json ? " --json" : "", o.profile ? " --profile" : "");
    std::fflush(stdout);
    const int status = std::system(cmd.c_str());
    MAD_CHECK(status == 0, "mad bench: the run of workload {} failed (status {})", w.name, status);
  }
}

}  // namespace

void setup_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench",
      "Time training steps (forward, backward, AdamW) of the MAD transformer at the protocol's shapes and of every\n"
      "registered layer alone: ms/step, tokens/s, GFLOP/s, % of the measured matrix-multiply peak, peak memory.\n"
      "Example: mad bench --threads 2 --workloads 'icr-128*' --json");
  cmd->add_option("--threads", o->threads, "threads")->check(int_in(1, kMaxWorkers))->capture_default_str();
  cmd->add_option("--steps", o->steps, "timed steps per workload (the median is reported)")->check(int_in(1))->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed steps first (the step arena grows to its size)")->check(int_in(0))->capture_default_str();
  cmd->add_option("--workloads", o->workloads,
                  "workloads to run: icr-128, icr-512, icr-1024, sc-256 (the MAD transformer), each also as SHAPE/LAYER for\n"
                  "every layer of the registry (`mad layers` lists them) alone in the same backbone, e.g. icr-128/hyena;\n"
                  "NAME* selects by prefix ('icr-128*', 'sc-256/*', '*' for everything). Default: the transformer at\n"
                  "every shape and every layer at icr-128");
  cmd->add_option("--batch", o->batch,
                  "sequences per step instead of the protocol's 128 (e.g. to compare with PyTorch at L = 1024, "
                  "which needs about 40 GB at 128)")
      ->check(int_in(1));
  cmd->add_option("--precision", o->precision,
                  "f32, or bf16: matrix-product inputs rounded to bf16, float32 accumulation (like bf16 autocast)")
      ->capture_default_str();
  cmd->add_option("--arch", o->arch_files,
                  "architecture spec files (e.g. configs/architectures/mlstm-block-wired.yml) to time, each as\n"
                  "SHAPE/@STEM at every shape; alone, at icr-128 (compare with --workloads icr-128/mlstm-block)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--json", o->json, "one JSON object per workload");
  cmd->add_flag("--profile", o->profile, "also print the time of each op kind (forward and backward) per step");
  cmd->add_option("--gemm-peak", o->gemm_peak, "use this matrix-multiply peak (GFLOP/s) instead of measuring it")->check(real_positive());
  cmd->add_flag("--child", o->child, "internal: run as one workload's child process")->group("");
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace mad::cli
