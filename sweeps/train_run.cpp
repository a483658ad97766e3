#include "sweeps/train_run.h"

#include "results/provenance.h"

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

results::RunRecord train_planned_run(const SweepSpec& spec, const PlannedRun& run, int threads,
                                     TrainObserver* observer) {
  results::RunRecord record = planned_record(spec, run, threads);
  const tasks::Dataset dataset = tasks::generate_dataset(run.settings);
  const TrainData data = train_data(dataset);
  models::Model model = build_task_model(spec.architectures.at(run.architecture).spec, run.settings);
  model.initialize(static_cast<uint64_t>(run.training.seed));

  TrainConfig config;
  config.epochs = run.training.epochs;
  config.batch_size = run.training.batch_size;
  config.lr = run.training.lr;
  config.weight_decay = run.training.weight_decay;
  config.seed = static_cast<uint64_t>(run.training.seed);
  Trainer trainer(model, data, config);
  const TrainResult result = trainer.run(observer);

  record.status = result.status == "diverged" ? results::RunStatus::diverged : results::RunStatus::completed;
  record.error = result.message;
  for (const EpochResult& e : result.epochs)
    record.epochs.push_back({e.epoch, e.lr, to_metrics(e.train), to_metrics(e.test), e.seconds});
  if (result.best_epoch > 0) {
    record.final = results::FinalMetrics{result.best_epoch, to_metrics(result.train), to_metrics(result.test),
                                         to_metrics(result.epochs.back().test),
                                         static_cast<int64_t>(result.epochs.size()), result.seconds};
  }
  record.provenance.finished_at = results::utc_timestamp();
  return record;
}

}  // namespace mad::sweeps
