// `mad train`: train one architecture on one task setting with the MAD protocol's training semantics and
// print the metrics the protocol reports (MAD accuracy of the epoch with the lowest test perplexity).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include "apps/api.h"
#include "config/atomic_file.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/progress.h"
#include "apps/task_options.h"
#include "config/canonical.h"
#include "core/parallel.h"
#include "kernels/isa.h"
#include "kernels/precision.h"
#include "models/backbone.h"
#include "results/run_key.h"
#include "sweeps/train_run.h"
#include "tasks/data_dir.h"
#include "tasks/dataset.h"
#include "tasks/task.h"
#include "training/checkpoint.h"
#include "training/epoch_log.h"

namespace mad::cli {
namespace {

namespace fs = std::filesystem;

struct TrainOptions {
  TaskOptions task;
  std::vector<std::string> layers;
  std::string arch_file;
  int64_t dim = 128;
  CLI::Option* dim_option = nullptr;
  TrainConfig train;
  int threads = 1;
  std::string data_dir;
  std::string save_dir;
  std::string log_jsonl;
  bool resume = false;
  bool json = false;
  bool quiet = false;
  std::string precision = "f32";
  std::string weight_decay_groups = "all";
};

config::Value train_config_json(const TrainConfig& c) {
  config::Value v = config::Value::map();
  v.set("epochs", config::Value(c.epochs));
  v.set("batch_size", config::Value(c.batch_size));
  v.set("lr", c.lr);
  v.set("min_lr", c.min_lr);
  v.set("weight_decay", c.weight_decay);
  v.set("weight_decay_groups", config::Value(std::string(weight_decay_groups_name(c.weight_decay_groups))));
  v.set("seed", config::Value(static_cast<int64_t>(c.seed)));
  v.set("precision", config::Value(std::string(kernels::precision_name(c.precision))));
  return v;
}

// A metric for JSON: null when it is not a number (a diverged run reports none; JSON has no NaN).
config::Value metric(double x) { return std::isfinite(x) ? config::Value(x) : config::Value(); }

// A table cell: "diverged" instead of a number that is not one, so that no 0.0000 or nan looks like a result.
// Huge finite values (a perplexity of 1e98) in exponent form, to keep the columns.
std::string cell(double x) {
  if (!std::isfinite(x)) return fmt::format("{:>10}", "diverged");
  return std::abs(x) < 1e6 ? fmt::format("{:>10.4f}", x) : fmt::format("{:>10.3e}", x);
}

void print_table(const TrainResult& r, const models::Model& model, const tasks::TaskSettings& settings) {
  fmt::print("\n{} on {} (V={}, L={}): {} parameters without embeddings\n", models::arch_summary(model.spec()),
             tasks::task_info(settings.task).name, settings.vocab_size, settings.seq_len, model.params_without_embeddings());
  fmt::print("{:<8} {:>10} {:>10} {:>10} {:>10}\n", "", "loss", "ppl", "MAD acc", "token acc");
  for (const auto& [name, m] : {std::pair{"train", r.train}, std::pair{"test", r.test}})
    fmt::print("{:<8} {} {} {} {}\n", name, cell(m.loss), cell(m.ppl), cell(m.acc), cell(m.token_acc));
  fmt::print("best epoch {} of {} run, status {}, {:.1f} s{}\n", r.best_epoch, r.epochs.size(), r.status, r.seconds,
             r.message.empty() ? "" : " (" + r.message + ")");
}

// The `mad train --json` object of a finished training.
config::Value result_json(const TrainResult& r, const models::ArchSpec& spec, models::Model& model, int threads,
                          const std::string& precision, const std::string& key) {
  config::Value out = config::Value::map();
  out.set("status", r.status);
  out.set("test_acc", metric(r.test.acc));
  out.set("test_token_acc", metric(r.test.token_acc));
  out.set("test_loss", metric(r.test.loss));
  out.set("test_ppl", metric(r.test.ppl));
  out.set("train_acc", metric(r.train.acc));
  out.set("train_token_acc", metric(r.train.token_acc));
  out.set("train_loss", metric(r.train.loss));
  out.set("train_ppl", metric(r.train.ppl));
  out.set("best_epoch", config::Value(r.best_epoch));
  out.set("epochs_run", config::Value(static_cast<int64_t>(r.epochs.size())));
  out.set("seconds", r.seconds);
  if (!r.epochs.empty()) {
    config::Value last = config::Value::map();
    const SplitMetrics& m = r.epochs.back().test;
    for (const auto& [name, x] : {std::pair{"loss", m.loss}, std::pair{"ppl", m.ppl}, std::pair{"acc", m.acc},
                                  std::pair{"token_acc", m.token_acc}})
      last.set(name, metric(x));
    out.set("final_test", last);
  }
  out.set("arch_hash", models::arch_hash(spec));
  out.set("key", key);
  out.set("params", config::Value(model.params().num_params()));
  out.set("threads", config::Value(threads));
  out.set("precision", config::Value(precision));
  out.set("isa", config::Value(std::string(kernels::isa_name(kernels::active_isa()))));
  config::Value curve = config::Value::list();
  for (const EpochResult& e : r.epochs) curve.push_back(metric(e.test.loss));
  out.set("test_loss_per_epoch", curve);
  if (!r.message.empty()) out.set("message", r.message);
  return out;
}

void run_train(TrainOptions& o) {
  o.train.precision = kernels::precision_from_name(o.precision);  // bad values: one line, before any work
  o.train.weight_decay_groups = weight_decay_groups_from_name(o.weight_decay_groups);
  set_num_threads(o.threads);
  // The data: generated from the settings, or read from a directory (ours or the reference's).
  tasks::TaskSettings settings;
  tasks::Dataset dataset;
  const auto data_start = std::chrono::steady_clock::now();
  if (!o.data_dir.empty()) {
    std::optional<tasks::TaskSettings> from_dir = tasks::settings_for_dir(o.data_dir);
    MAD_CHECK(from_dir || !o.task.task.empty(),
              "{}: the directory has no settings.json and no reference name; give --task and the settings flags",
              o.data_dir);
    settings = from_dir ? resolve_task_settings(o.task, *from_dir) : resolve_task_settings(o.task);
    dataset = tasks::read_dataset_dir(o.data_dir, settings);
  } else {
    settings = resolve_task_settings(o.task);
    dataset = tasks::generate_dataset(settings);
    if (const auto warning = tasks::leakage_warning(dataset)) std::fprintf(stderr, "mad: warning: %s\n", warning->c_str());
  }
  const double data_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - data_start).count();
  const TrainData data = sweeps::train_data(dataset);

  // The model: the task decides the backbone.
  MAD_CHECK(o.layers.empty() != o.arch_file.empty(), "give the architecture with --layers NAME... or --arch FILE (one of them)");
  const int64_t dim_override = o.dim_option->count() ? o.dim : 0;
  const models::ArchSpec spec = o.arch_file.empty() ? models::arch_from_names(o.layers, o.dim)
                                                    : models::arch_from_file(o.arch_file, models::builtin_layers(), dim_override);
  models::Model model = sweeps::build_task_model(spec, settings);
  model.initialize(static_cast<uint64_t>(settings.seed));
  o.train.seed = static_cast<uint64_t>(settings.seed);

  // Identity of the run, stored in checkpoints so that --resume continues the same run only.
  config::Value meta = config::Value::map();
  meta.set("arch", models::to_config(spec));
  meta.set("task", tasks::to_config(settings));
  meta.set("train", train_config_json(o.train));

  Trainer trainer(model, data, o.train);
  const fs::path checkpoint = o.save_dir.empty() ? fs::path() : fs::path(o.save_dir) / "last.ckpt";
  if (o.resume) {
    MAD_CHECK(!o.save_dir.empty(), "--resume continues the run saved in --save DIR; give --save");
    MAD_CHECK(fs::exists(checkpoint), "--resume: {} does not exist; start the run without --resume", checkpoint.string());
    const config::Value saved = read_checkpoint_meta(checkpoint.string());
    MAD_CHECK(config::canonical(saved) == config::canonical(meta),
              "--resume: {} was saved by a run with other settings (architecture, task or training); "
              "rerun with the same options or another --save directory", checkpoint.string());
    trainer.state() = load_checkpoint(checkpoint.string(), model.params()).state;
    if (!o.quiet) std::fprintf(stderr, "resuming after epoch %lld\n", static_cast<long long>(trainer.state().epochs_done));
  } else if (!o.save_dir.empty()) {
    fs::create_directories(o.save_dir);
    MAD_CHECK(!fs::exists(checkpoint), "{} exists; add --resume to continue that run, or choose another --save directory",
              checkpoint.string());
  }

  if (!o.quiet && !o.json)
    fmt::print("{} on {}: {} parameters, data {} + {} sequences of length {} ({:.2f} s), {} thread(s)\n",
               models::arch_summary(spec), tasks::task_info(settings.task).name, model.params().num_params(),
               data.train_inputs.dim(0), data.test_inputs.dim(0), data.train_inputs.dim(1), data_seconds, o.threads);
  std::fflush(stdout);

  // Progress on stderr; a checkpoint after every epoch so that nothing is lost on a crash.
  struct Observer : ProgressLine {
    using ProgressLine::ProgressLine;
    std::function<void()> after_epoch;
    void on_epoch(const EpochResult& e, const TrainResult& r) override {
      ProgressLine::on_epoch(e, r);
      if (after_epoch) after_epoch();
    }
  } observer(o.train.epochs, o.train.batch_size * data.train_inputs.dim(1), o.quiet);
  if (!o.save_dir.empty())
    observer.after_epoch = [&] { save_checkpoint(checkpoint.string(), model.params(), trainer.state(), meta); };
  // The epoch stream names the run by the key a sweep would record it under (results/run_key.h).
  const std::string key = train_key(spec, settings, o.train, o.precision);
  std::optional<EpochLog> log;
  if (!o.log_jsonl.empty()) log.emplace(o.log_jsonl, key, &observer);
  const TrainResult r = trainer.run(log ? static_cast<TrainObserver*>(&*log) : &observer);

  const config::Value out = result_json(r, spec, model, o.threads, o.precision, key);
  if (!o.save_dir.empty()) {
    config::write_file_atomically(fs::path(o.save_dir) / "result.json", config::canonical(out) + "\n");
  }
  if (o.json) fmt::print("{}\n", config::canonical(out));
  else print_table(r, model, settings);
}

}  // namespace

std::string train_key(const models::ArchSpec& spec, const tasks::TaskSettings& settings, const TrainConfig& config,
                      const std::string& precision) {
  return results::run_key(models::to_config(spec), tasks::to_config(settings),
                          results::TrainingSettings{config.lr, config.weight_decay, config.epochs, config.batch_size,
                                                    static_cast<int64_t>(config.seed), precision,
                                                    std::string(weight_decay_groups_name(config.weight_decay_groups))});
}

config::Value train_json(const models::ArchSpec& spec, const tasks::TaskSettings& settings, TrainConfig config,
                         int threads, const std::string& precision, TrainObserver* observer) {
  // The steps of run_train without its data directory, checkpoints and printing, in the same order.
  config.precision = kernels::precision_from_name(precision);
  set_num_threads(threads);
  const tasks::Dataset dataset = tasks::generate_dataset(settings);
  const TrainData data = sweeps::train_data(dataset);
  models::Model model = sweeps::build_task_model(spec, settings);
  model.initialize(static_cast<uint64_t>(settings.seed));
  config.seed = static_cast<uint64_t>(settings.seed);
  Trainer trainer(model, data, config);
  const TrainResult r = trainer.run(observer);
  return result_json(r, spec, model, threads, precision, train_key(spec, settings, config, precision));
}

void setup_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train an architecture on one MAD task setting and report the protocol's metrics.\n"
      "Example: mad train --task in-context-recall --layers mh-attention swiglu mh-attention swiglu --lr 1e-3");
  add_task_options(cmd, o->task, false);
  cmd->add_option("--layers", o->layers, "layer names, e.g. mh-attention swiglu mh-attention swiglu (see 'mad layers')");
  cmd->add_option("--arch", o->arch_file, "YAML architecture spec: dim, norm, layers with per-layer overrides");
  o->dim_option = cmd->add_option("--dim", o->dim, "model width D")->check(int_in(1))->capture_default_str();
  cmd->add_option("--epochs", o->train.epochs, "maximum epochs (early stop at test accuracy > 0.999)")->check(int_in(1))->capture_default_str();
  cmd->add_option("--stop-after", o->train.stop_after_epoch,
                  "stop after this epoch of the --epochs-long cosine schedule (0: run it all)")
      ->check(int_in(0))
      ->capture_default_str();
  cmd->add_option("--batch-size", o->train.batch_size, "sequences per batch")->check(int_in(1))->capture_default_str();
  cmd->add_option("--lr", o->train.lr, "AdamW learning rate (cosine schedule per epoch)")->check(real_positive())->capture_default_str();
  cmd->add_option("--min-lr", o->train.min_lr, "final learning rate of the cosine schedule")->check(real_positive(true))->capture_default_str();
  cmd->add_option("--weight-decay", o->train.weight_decay, "AdamW decoupled weight decay")->check(real_positive(true))->capture_default_str();
  cmd->add_option("--weight-decay-groups", o->weight_decay_groups,
                  "all (every parameter decays, as mad-lab's main branch) or no_norm_bias (norm weights, biases, "
                  "rank-1 parameters and mamba's A_log and D do not)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "threads for this run")->check(int_in(1, kMaxWorkers))->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "f32, or bf16: matrix-product inputs rounded to bf16 with float32 accumulation, float32 weights, "
                  "optimizer, norms, softmax and loss (like mad-lab's bf16 autocast)")
      ->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "train on the dataset in DIR (from 'mad data generate' or the MAD benchmark data)");
  cmd->add_option("--save", o->save_dir, "write DIR/last.ckpt after every epoch and DIR/result.json at the end");
  cmd->add_flag("--resume", o->resume, "continue the run saved in --save DIR");
  cmd->add_option("--log-jsonl", o->log_jsonl,
                  "append one JSON object per epoch to FILE, flushed per line (run key, epoch, lr, train and test "
                  "loss/ppl/MAD acc/token acc, seconds)");
  cmd->add_flag("--json", o->json, "print the final metrics as one JSON object");
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  cmd->callback([o] { run_train(*o); });
}

}  // namespace mad::cli
