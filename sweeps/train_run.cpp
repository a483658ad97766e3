#include "sweeps/train_run.h"

#include <time.h>

#include <functional>
#include <limits>
#include <memory>

#include "kernels/precision.h"
#include "results/provenance.h"
#include "sweeps/halving.h"
#include "training/checkpoint.h"

namespace mad::sweeps {
namespace {

Tensor to_tensor(const tasks::TokenMatrix& m) {
  return Tensor::from<int32_t>({m.rows, m.cols}, std::span<const int32_t>(m.data));
}

results::Metrics to_metrics(const SplitMetrics& m) { return {m.loss, m.ppl, m.acc, m.token_acc}; }

}  // namespace

models::NormalizeShape task_shape(const tasks::TaskSettings& settings) {
  const auto kind = tasks::task_info(settings.task).backbone == tasks::Backbone::Autoencoder
                        ? models::BackboneKind::autoencoder
                        : models::BackboneKind::language_model;
  return {kind, settings.vocab_size, tasks::sequence_length(settings)};
}

models::Model build_task_model(const models::ArchSpec& spec, const tasks::TaskSettings& settings) {
  const models::NormalizeShape shape = task_shape(settings);
  return models::Model(spec, shape.kind, shape.vocab_size, shape.seq_len);
}

TrainData train_data(const tasks::Dataset& dataset) {
  return TrainData{to_tensor(dataset.train.inputs), to_tensor(dataset.train.targets), to_tensor(dataset.test.inputs),
                   to_tensor(dataset.test.targets)};
}

TrainConfig train_config(const PlannedRun& run) {
  TrainConfig config;
  config.epochs = run.training.epochs;
  config.batch_size = run.training.batch_size;
  config.lr = run.training.lr;
  config.weight_decay = run.training.weight_decay;
  config.seed = static_cast<uint64_t>(run.training.seed);
  config.precision = kernels::precision_from_name(run.training.precision);
  config.weight_decay_groups = weight_decay_groups_from_name(run.training.weight_decay_groups);
  return config;
}

results::RunRecord planned_record(const SweepSpec& spec, const PlannedRun& run, int threads) {
  const SweepArchitecture& arch = spec.architectures.at(run.architecture);
  const models::ArchDescription d = describe_at(arch.spec, run.settings);
  results::RunRecord record;
  record.sweep = spec.name;
  record.architecture =
      results::ArchitectureInfo{arch.name, models::to_config(arch.spec), d.params, d.total_state, d.fixed_state};
  record.task_settings = tasks::to_config(run.settings);
  record.training = run.training;
  record.status = results::RunStatus::running;
  record.provenance = results::this_process(threads);
  return record;
}

namespace {

// Thrown by the observer to leave Trainer::run after the target epoch, once the checkpoint is written.
struct PausedAtTarget {};

// Passes every report on to the caller's observer and stops the training after `target`, checkpointing
// first, unless that epoch ends the run anyway (early stop).
class PauseAfter : public TrainObserver {
 public:
  PauseAfter(int64_t target, double stop_accuracy, TrainObserver* inner, std::function<void()> save)
      : target_(target), stop_accuracy_(stop_accuracy), inner_(inner), save_(std::move(save)) {}
  void on_step(int64_t epoch, int64_t step, int64_t steps, double loss, double lr) override {
    if (inner_) inner_->on_step(epoch, step, steps, loss, lr);
  }
  void on_epoch(const EpochResult& e, const TrainResult& so_far) override {
    if (inner_) inner_->on_epoch(e, so_far);
    if (e.epoch == target_ && !(e.test.acc > stop_accuracy_)) {
      save_();
      throw PausedAtTarget{};
    }
  }

 private:
  int64_t target_;
  double stop_accuracy_;
  TrainObserver* inner_;
  std::function<void()> save_;
};

// The model and its trainer, built afresh (a failed checkpoint load leaves parameters half-written).
struct Training {
  std::unique_ptr<models::Model> model;
  std::unique_ptr<Trainer> trainer;  // refers to *model: goes first (restart, and destruction order)
};

Training start_training(const SweepSpec& spec, const PlannedRun& run, const TrainData& data) {
  const models::NormalizeShape shape = task_shape(run.settings);
  Training t;
  t.model = std::make_unique<models::Model>(spec.architectures.at(run.architecture).spec, shape.kind, shape.vocab_size,
                                            shape.seq_len);
  t.model->initialize(static_cast<uint64_t>(run.training.seed));
  t.trainer = std::make_unique<Trainer>(*t.model, data, train_config(run));
  return t;
}

// Drops `t`'s trainer before its model, then builds both again.
void restart(Training& t, const SweepSpec& spec, const PlannedRun& run, const TrainData& data) {
  t.trainer.reset();
  t.model.reset();
  t = start_training(spec, run, data);
}

config::Value checkpoint_meta(const PlannedRun& run) {
  config::Value meta = config::Value::map();
  meta.set("run_key", run.key);
  return meta;
}

// Loads the run's checkpoint into `t` when it is this run's and not beyond `target`; else leaves `t`
// fresh. Returns whether it loaded.
bool resume(Training& t, const SweepSpec& spec, const PlannedRun& run, const TrainData& data,
            const std::filesystem::path& checkpoint, int64_t target) {
  std::error_code ignored;
  if (checkpoint.empty() || !std::filesystem::exists(checkpoint, ignored)) return false;
  try {
    const config::Value meta = read_checkpoint_meta(checkpoint.string());
    const config::Value* key = meta.find("run_key");
    if (!key || key->as_string() != run.key) return false;
    LoadedCheckpoint loaded = load_checkpoint(checkpoint.string(), t.model->params());
    if (loaded.state.epochs_done > target) {
      restart(t, spec, run, data);
      return false;
    }
    t.trainer->state() = std::move(loaded.state);
    return true;
  } catch (const Error&) {
    restart(t, spec, run, data);
    return false;
  }
}

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

results::RunRecord train_segment(const SweepSpec& spec, const PlannedRun& run, int threads, const Segment& segment,
                                 TrainObserver* observer) {
  const double cpu_start = process_cpu_seconds();
  const int64_t target = segment.target > 0 ? std::min(segment.target, run.training.epochs) : run.training.epochs;
  results::RunRecord record = planned_record(spec, run, threads);
  if (!segment.started_at.empty()) record.provenance.started_at = segment.started_at;
  const tasks::Dataset dataset = tasks::generate_dataset(run.settings);
  const TrainData data = train_data(dataset);
  Training t = start_training(spec, run, data);
  resume(t, spec, run, data, segment.checkpoint, target);
  double earlier_seconds = 0;  // wall time of the epochs trained before this segment
  for (const EpochResult& e : t.trainer->state().history) earlier_seconds += e.seconds;

  const auto to_epochs = [&](const std::vector<EpochResult>& history) {
    record.epochs.clear();
    for (const EpochResult& e : history)
      record.epochs.push_back({e.epoch, e.lr, to_metrics(e.train), to_metrics(e.test), e.seconds});
  };
  const auto pause = [&] {
    // The metrics the run reports if it stops here: those of its lowest-perplexity epoch so far.
    to_epochs(t.trainer->state().history);
    record.status = results::RunStatus::paused;
    const size_t best = static_cast<size_t>(reported_epoch_index(record.epochs, target));
    double seconds = 0;
    for (const results::EpochMetrics& e : record.epochs) seconds += e.seconds;
    record.final = results::FinalMetrics{record.epochs[best].epoch, {kNan, kNan, kNan, kNan}, record.epochs[best].test,
                                         record.epochs.back().test, static_cast<int64_t>(record.epochs.size()), seconds};
  };

  const bool paused_already = t.trainer->state().epochs_done == target && target < run.training.epochs &&
                              !(t.trainer->state().history.back().test.acc > train_config(run).stop_accuracy);
  if (paused_already) {
    pause();  // the checkpoint was written, the record was not (the worker died in between)
  } else {
    PauseAfter pause_after(target, train_config(run).stop_accuracy, observer, [&] {
      save_checkpoint(segment.checkpoint.string(), t.model->params(), t.trainer->state(), checkpoint_meta(run));
    });
    const bool may_pause = target < run.training.epochs;
    MAD_CHECK(!may_pause || !segment.checkpoint.empty(), "train_segment: a run that pauses at epoch {} needs a checkpoint path",
              target);
    try {
      const TrainResult result = t.trainer->run(may_pause ? &pause_after : observer);
      record.status = result.status == "diverged" ? results::RunStatus::diverged : results::RunStatus::completed;
      record.error = result.message;
      to_epochs(result.epochs);
      // A diverged run reports no metrics (null in the database); its epochs before the divergence stay.
      if (result.best_epoch > 0 && result.status != "diverged") {
        record.final = results::FinalMetrics{result.best_epoch, to_metrics(result.train), to_metrics(result.test),
                                             to_metrics(result.epochs.back().test),
                                             static_cast<int64_t>(result.epochs.size()), earlier_seconds + result.seconds};
      }
    } catch (const PausedAtTarget&) {
      pause();
    }
  }
  record.cpu_seconds = segment.prior_cpu_seconds + (process_cpu_seconds() - cpu_start);
  record.provenance.finished_at = results::utc_timestamp();
  return record;
}

results::RunRecord train_planned_run(const SweepSpec& spec, const PlannedRun& run, int threads,
                                     TrainObserver* observer) {
  return train_segment(spec, run, threads, Segment{}, observer);
}

}  // namespace mad::sweeps
