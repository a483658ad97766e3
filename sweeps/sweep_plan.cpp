#include "sweeps/sweep_plan.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "core/error.h"
#include "models/backbone.h"
#include "config/canonical.h"
#include "results/run_key.h"
#include "sweeps/train_run.h"
#include "tasks/protocol_grid.h"
#include "tasks/settings.h"

namespace mad::sweeps {
namespace {

// Floating-point operations of one epoch: training steps (3x forward) over the train set and a forward
// pass over the test set.
double epoch_flops(const models::ArchDescription& d, const tasks::TaskSettings& s) {
  const double length = static_cast<double>(tasks::sequence_length(s));
  return d.flops_per_token * length *
         (3.0 * static_cast<double>(s.num_train_examples) + static_cast<double>(s.num_test_examples));
}

// A run that trains every epoch (early stopping only shortens it), plus at the end a forward pass over
// the train set (the reported train metrics).
double run_flops(const models::ArchDescription& d, const tasks::TaskSettings& s, int64_t epochs) {
  const double train_tokens = static_cast<double>(s.num_train_examples) * static_cast<double>(tasks::sequence_length(s));
  return static_cast<double>(epochs) * epoch_flops(d, s) + d.flops_per_token * train_tokens;
}

}  // namespace

models::ArchDescription describe_at(const models::ArchSpec& spec, const tasks::TaskSettings& settings) {
  return models::describe(build_task_model(spec, settings));
}

std::vector<PlannedRun> plan_sweep(const SweepSpec& spec) {
  std::vector<PlannedRun> runs;
  std::vector<config::Value> arch_configs;
  for (const SweepArchitecture& a : spec.architectures) arch_configs.push_back(models::to_config(a.spec));
  size_t brackets = 0;
  for (const tasks::TaskSettings& settings : spec.settings) {
    const config::Value task_config = tasks::to_config(settings);
    // Facts depend on the architecture and the task's shape, not on lr or weight decay.
    std::vector<double> flops, per_epoch;
    for (const SweepArchitecture& a : spec.architectures) {
      const models::ArchDescription d = describe_at(a.spec, settings);
      flops.push_back(run_flops(d, settings, spec.epochs));
      per_epoch.push_back(epoch_flops(d, settings));
    }
    const size_t first_bracket = brackets;
    brackets += spec.architectures.size();
    for (double lr : spec.lrs) {
      for (double wd : spec.weight_decays) {
        for (size_t a = 0; a < spec.architectures.size(); ++a) {
          PlannedRun run;
          run.architecture = a;
          run.bracket = first_bracket + a;
          run.epoch_flops = per_epoch[a];
          run.settings = settings;
          run.training = results::TrainingSettings{lr, wd, spec.epochs, spec.batch_size, settings.seed, spec.precision,
                                                   spec.weight_decay_groups};
          run.key = results::run_key(arch_configs[a], task_config, run.training);
          run.flops = flops[a];
          runs.push_back(std::move(run));
        }
      }
    }
  }
  return runs;
}

std::string setting_label(const tasks::TaskSettings& settings) {
  const config::Value value = tasks::to_config(settings);
  const config::Value baseline = tasks::to_config(tasks::protocol_grid(settings.task).baseline);
  std::string label(tasks::task_info(settings.task).name);
  bool differs = false;
  for (const auto& [key, v] : value.as_map()) {
    if (v == baseline.at(key)) continue;
    label += fmt::format(" {}={}", key, config::canonical(v));
    differs = true;
  }
  return differs ? label : label + " (baseline)";
}

Shard parse_shard(const std::string& text) {
  Shard shard;
  const size_t slash = text.find('/');
  const auto parse = [&](std::string_view part, int& out) {
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc() && end == part.data() + part.size();
  };
  const bool ok = slash != std::string::npos && parse(std::string_view(text).substr(0, slash), shard.index) &&
                  parse(std::string_view(text).substr(slash + 1), shard.count) && shard.count >= 1 &&
                  shard.index >= 1 && shard.index <= shard.count;
  MAD_CHECK(ok, "--shard '{}': give i/N with 1 <= i <= N, e.g. --shard 2/8", text);
  return shard;
}

std::vector<PlannedRun> shard_of(std::span<const PlannedRun> runs, Shard shard, bool whole_brackets) {
  std::vector<PlannedRun> out;
  if (!whole_brackets) {
    for (size_t i = static_cast<size_t>(shard.index - 1); i < runs.size(); i += static_cast<size_t>(shard.count))
      out.push_back(runs[i]);
    return out;
  }
  std::map<size_t, size_t> position;  // bracket -> its position among the brackets, by first run
  for (const PlannedRun& run : runs) {
    position.emplace(run.bracket, position.size());
    if (position.at(run.bracket) % static_cast<size_t>(shard.count) == static_cast<size_t>(shard.index - 1))
      out.push_back(run);
  }
  return out;
}

double estimated_seconds(double flops, int threads) {
  // `mad bench` on the MAD transformer, quiet machine (docs/performance.md): 54 GFLOP/s on one thread,
  // 0.79 s -> 0.57 s per step from 1 to 2 threads. Evaluation and data loading make runs a bit slower.
  constexpr double kFlopsPerSecondPerThread = 50e9;
  constexpr double kSecondThreadEfficiency = 0.4;
  const double speed = 1.0 + kSecondThreadEfficiency * (threads - 1);
  return flops / (kFlopsPerSecondPerThread * speed);
}

}  // namespace mad::sweeps
