// `mad train`: train one architecture on one task setting with the MAD protocol's training semantics and
// print the metrics the protocol reports (MAD accuracy of the epoch with the lowest test perplexity).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/task_options.h"
#include "config/canonical.h"
#include "core/parallel.h"
#include "models/backbone.h"
#include "sweeps/train_run.h"
#include "tasks/data_dir.h"
#include "tasks/dataset.h"
#include "tasks/task.h"
#include "training/checkpoint.h"

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
  bool resume = false;
  bool json = false;
  bool quiet = false;
};

config::Value train_config_json(const TrainConfig& c) {
  config::Value v = config::Value::map();
  v.set("epochs", config::Value(c.epochs));
  v.set("batch_size", config::Value(c.batch_size));
  v.set("lr", c.lr);
  v.set("min_lr", c.min_lr);
  v.set("weight_decay", c.weight_decay);
  v.set("seed", config::Value(static_cast<int64_t>(c.seed)));
  return v;
}

void print_table(const TrainResult& r, const models::Model& model, const tasks::TaskSettings& settings) {
  fmt::print("\n{} on {} (V={}, L={}): {} parameters without embeddings\n", models::arch_summary(model.spec()),
             tasks::task_info(settings.task).name, settings.vocab_size, settings.seq_len, model.params_without_embeddings());
  fmt::print("{:<8} {:>10} {:>10} {:>10} {:>10}\n", "", "loss", "ppl", "MAD acc", "token acc");
  for (const auto& [name, m] : {std::pair{"train", r.train}, std::pair{"test", r.test}})
    fmt::print("{:<8} {:>10.4f} {:>10.4f} {:>10.4f} {:>10.4f}\n", name, m.loss, m.ppl, m.acc, m.token_acc);
  fmt::print("best epoch {} of {} run, status {}, {:.1f} s{}\n", r.best_epoch, r.epochs.size(), r.status, r.seconds,
             r.message.empty() ? "" : " (" + r.message + ")");
}

void run_train(TrainOptions& o) {
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
  const TrainResult r = trainer.run(&observer);

  config::Value out = config::Value::map();
  out.set("status", r.status);
  out.set("test_acc", r.test.acc);
  out.set("test_token_acc", r.test.token_acc);
  out.set("test_loss", r.test.loss);
  out.set("test_ppl", r.test.ppl);
  out.set("train_acc", r.train.acc);
  out.set("train_token_acc", r.train.token_acc);
  out.set("train_loss", r.train.loss);
  out.set("train_ppl", r.train.ppl);
  out.set("best_epoch", config::Value(r.best_epoch));
  out.set("epochs_run", config::Value(static_cast<int64_t>(r.epochs.size())));
  out.set("seconds", r.seconds);
  if (!r.epochs.empty()) out.set("final_test", to_config(r.epochs.back().test));
  out.set("arch_hash", models::arch_hash(spec));
  out.set("params", config::Value(model.params().num_params()));
  out.set("threads", config::Value(o.threads));
  if (!r.message.empty()) out.set("message", r.message);
  if (!o.save_dir.empty()) {
    const fs::path result = fs::path(o.save_dir) / "result.json";
    std::FILE* f = std::fopen(result.string().c_str(), "w");
    MAD_CHECK(f, "cannot write {}", result.string());
    std::fprintf(f, "%s\n", config::canonical(out).c_str());
    std::fclose(f);
  }
  if (o.json) fmt::print("{}\n", config::canonical(out));
  else print_table(r, model, settings);
}

}  // namespace

void setup_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train an architecture on one MAD task setting and report the protocol's metrics.\n"
      "Example: mad train --task in-context-recall --layers mh-attention swiglu mh-attention swiglu --lr 1e-3");
  add_task_options(cmd, o->task, false);
  cmd->add_option("--layers", o->layers, "layer names, e.g. mh-attention swiglu mh-attention swiglu (see 'mad layers')");
  cmd->add_option("--arch", o->arch_file, "YAML architecture spec: dim, norm, layers with per-layer overrides");
  o->dim_option = cmd->add_option("--dim", o->dim, "model width D")->capture_default_str();
  cmd->add_option("--epochs", o->train.epochs, "maximum epochs (early stop at test accuracy > 0.999)")->capture_default_str();
  cmd->add_option("--batch-size", o->train.batch_size, "sequences per batch")->capture_default_str();
  cmd->add_option("--lr", o->train.lr, "AdamW learning rate (cosine schedule per epoch)")->capture_default_str();
  cmd->add_option("--min-lr", o->train.min_lr, "final learning rate of the cosine schedule")->capture_default_str();
  cmd->add_option("--weight-decay", o->train.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_option("--threads", o->threads, "threads for this run")->capture_default_str();
  cmd->add_option("--data-dir", o->data_dir, "train on the dataset in DIR (from 'mad data generate' or the MAD benchmark data)");
  cmd->add_option("--save", o->save_dir, "write DIR/last.ckpt after every epoch and DIR/result.json at the end");
  cmd->add_flag("--resume", o->resume, "continue the run saved in --save DIR");
  cmd->add_flag("--json", o->json, "print the final metrics as one JSON object");
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  cmd->callback([o] { run_train(*o); });
}

}  // namespace mad::cli
