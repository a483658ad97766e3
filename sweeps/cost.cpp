#include "sweeps/cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "sweeps/train_run.h"
#include "tasks/dataset.h"
#include "training/trainer.h"

namespace mad::sweeps {
namespace {

double steps_of(int64_t examples, int64_t batch) {
  return static_cast<double>((examples + batch - 1) / batch);
}

// Stops the training once enough steps are timed; remembers the CPU time after each step.
struct StepClock : TrainObserver {
  struct Enough {};
  int64_t max_steps = 0;
  double budget = 0;  // CPU seconds for the timed steps
  std::vector<double> at;  // process CPU seconds after each step
  void on_step(int64_t, int64_t, int64_t, double, double) override {
    at.push_back(process_cpu_seconds());
    const int64_t timed = static_cast<int64_t>(at.size()) - 1;  // the first step warms up
    if (timed >= max_steps || (timed >= 1 && at.back() - at.front() >= budget)) throw Enough{};
  }
};

ShapeTiming time_shape(const SweepSpec& spec, const PlannedRun& run, double budget, int64_t& steps) {
  constexpr int64_t kMaxSteps = 8;
  tasks::TaskSettings settings = run.settings;
  const int64_t batch = run.training.batch_size;
  settings.num_train_examples = batch * (kMaxSteps + 1);
  settings.num_test_examples = batch;
  const tasks::Dataset dataset = tasks::generate_dataset(settings);
  const TrainData data = train_data(dataset);
  models::Model model = build_task_model(spec.architectures.at(run.architecture).spec, settings);
  model.initialize(static_cast<uint64_t>(run.training.seed));
  Trainer trainer(model, data, train_config(run));
  StepClock clock;
  clock.max_steps = kMaxSteps;
  clock.budget = budget;
  try {
    trainer.run(&clock);
  } catch (const StepClock::Enough&) {
  }
  MAD_CHECK(clock.at.size() >= 2, "calibrate: fewer than two training steps at {}", calibration_shape(run));
  ShapeTiming t;
  t.step = (clock.at.back() - clock.at.front()) / static_cast<double>(clock.at.size() - 1);
  steps += static_cast<int64_t>(clock.at.size()) - 1;
  const double before = process_cpu_seconds();
  trainer.evaluate(data.test_inputs, data.test_targets);
  t.eval = process_cpu_seconds() - before;
  return t;
}

}  // namespace

std::string calibration_shape(const PlannedRun& run) {
  const models::NormalizeShape shape = task_shape(run.settings);
  return fmt::format("architecture {} {} V={} L={} batch {}", run.architecture,
                     shape.kind == models::BackboneKind::autoencoder ? "autoencoder" : "language model",
                     shape.vocab_size, shape.seq_len, run.training.batch_size);
}

Calibration calibrate(const SweepSpec& spec, std::span<const PlannedRun> runs, double budget_seconds) {
  MAD_CHECK(budget_seconds > 0, "--calibrate: give the seconds to spend measuring, e.g. --calibrate 60; got {}",
            budget_seconds);
  std::map<std::string, const PlannedRun*> shapes;
  for (const PlannedRun& run : runs) shapes.emplace(calibration_shape(run), &run);
  Calibration c;
  const double start = process_cpu_seconds();
  const double per_shape = budget_seconds / static_cast<double>(std::max<size_t>(shapes.size(), 1));
  for (const auto& [shape, run] : shapes) c.shapes[shape] = time_shape(spec, *run, per_shape, c.steps);
  c.seconds = process_cpu_seconds() - start;
  return c;
}

CostModel CostModel::from_flops(int threads) {
  return per_flop(estimated_seconds(1.0, threads) * static_cast<double>(threads));
}

CostModel CostModel::per_flop(double cpu_seconds_per_flop) {
  CostModel m;
  m.seconds_per_flop_ = cpu_seconds_per_flop;
  return m;
}

CostModel CostModel::calibrated(Calibration calibration) {
  CostModel m;
  m.calibrated_ = true;
  m.calibration_ = std::move(calibration);
  return m;
}

RunCost CostModel::cost(const PlannedRun& run) const {
  if (!calibrated_) {
    const double final_flops = run.flops - static_cast<double>(run.training.epochs) * run.epoch_flops;
    return {run.epoch_flops * seconds_per_flop_, final_flops * seconds_per_flop_};
  }
  const ShapeTiming& t = calibration_.shapes.at(calibration_shape(run));
  const int64_t batch = run.training.batch_size;
  const double train_steps = steps_of(run.settings.num_train_examples, batch);
  return {train_steps * t.step + steps_of(run.settings.num_test_examples, batch) * t.eval, train_steps * t.eval};
}

double planned_cpu_seconds(std::span<const PlannedRun> runs, const Search& search, int64_t epochs, const CostModel& model) {
  std::map<size_t, std::vector<PlannedRun>> brackets;  // a bracket's runs are not adjacent in plan order
  for (const PlannedRun& run : runs) brackets[run.bracket].push_back(run);
  double total = 0;
  for (const auto& [bracket, of_bracket] : brackets) {
    const std::vector<BracketRun> fresh(of_bracket.size());
    total += remaining_cpu_seconds(of_bracket, fresh, search, epochs, model);
  }
  return total;
}

double remaining_cpu_seconds(std::span<const PlannedRun> runs, std::span<const BracketRun> progress,
                             const Search& search, int64_t epochs, const CostModel& model) {
  if (runs.empty()) return 0;
  // A bracket's runs share an architecture and a setting, so one run's price is every run's.
  const RunCost c = model.cost(runs.front());
  const size_t open = static_cast<size_t>(
      std::count_if(progress.begin(), progress.end(), [](const BracketRun& r) { return !r.ended; }));
  const size_t finishing = std::min(open, finishing_runs(runs.size(), search));
  return static_cast<double>(remaining_epochs(progress, search, epochs)) * c.epoch +
         static_cast<double>(finishing) * c.final_eval;
}

}  // namespace mad::sweeps
