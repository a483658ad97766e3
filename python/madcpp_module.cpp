// _madcpp: the C++ half of the Python module `madcpp` (madcpp.py is the other). Every function takes and
// returns text: specs and settings come in as YAML or JSON (JSON is YAML), results go out as the
// canonical JSON that the matching `mad` command prints (apps/api.h), and madcpp.py turns them into
// pandas DataFrames and dicts. So the numbers Python sees are the ones `mad` prints, digit for digit.
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <optional>
#include <string>

#include "apps/api.h"
#include "config/canonical.h"
#include "config/yaml.h"
#include "core/error.h"
#include "models/arch_spec.h"
#include "sweeps/sweep_plan.h"
#include "sweeps/sweep_spec.h"
#include "tasks/protocol_grid.h"
#include "tasks/task.h"
#include "training/epoch_log.h"

namespace py = pybind11;

namespace mad::python {
namespace {

models::ArchSpec arch_from_yaml(const std::string& yaml, const std::string& source) {
  return models::arch_from_config(config::load_string(yaml, source));
}

std::string describe(const std::string& arch_yaml, const std::string& source, const std::string& task, int64_t seq_len,
                     int64_t vocab_size, int64_t batch) {
  const models::ArchSpec spec = arch_from_yaml(arch_yaml, source);
  return config::canonical(cli::describe_json(spec, cli::describe_at_task(spec, task, seq_len, vocab_size), batch));
}

// Every run of the sweep spec, as `mad sweep run` would train them.
std::string sweep_plan(const std::string& spec_yaml, const std::string& source, const std::string& base_dir) {
  const sweeps::SweepSpec spec = sweeps::sweep_from_config(config::load_string(spec_yaml, source), base_dir);
  config::Value out = config::Value::list();
  for (const sweeps::PlannedRun& run : sweeps::plan_sweep(spec)) {
    config::Value v = config::Value::map();
    v.set("key", run.key);
    v.set("sweep", spec.name);
    v.set("architecture", spec.architectures[run.architecture].name);
    v.set("setting", tasks::to_config(run.settings));
    v.set("lr", run.training.lr);
    v.set("weight_decay", run.training.weight_decay);
    v.set("epochs", config::Value(run.training.epochs));
    v.set("batch_size", config::Value(run.training.batch_size));
    v.set("seed", config::Value(run.training.seed));
    v.set("flops", run.flops);
    out.push_back(std::move(v));
  }
  return config::canonical(out);
}

// Calls the Python callback with each epoch's JSON line, holding the GIL only for the call.
class CallbackObserver : public TrainObserver {
 public:
  CallbackObserver(std::string key, py::function callback) : key_(std::move(key)), callback_(std::move(callback)) {}
  void on_epoch(const EpochResult& e, const TrainResult&) override {
    py::gil_scoped_acquire gil;
    callback_(config::canonical(epoch_json(key_, e)));  // a Python exception propagates and stops the training
  }

 private:
  std::string key_;
  py::function callback_;
};

// task_yaml: a settings map with "task" (the protocol baseline of that task, overridden by the other
// keys); training_yaml: {epochs, batch_size, lr, min_lr, weight_decay, weight_decay_groups}, each optional.
std::string train(const std::string& arch_yaml, const std::string& task_yaml, const std::string& training_yaml,
                  int threads, const std::string& precision, std::optional<py::function> callback) {
  const models::ArchSpec spec = arch_from_yaml(arch_yaml, "arch");
  const config::Value task_map = config::load_string(task_yaml, "settings");
  const config::Value* task = task_map.find("task");
  MAD_CHECK(task, "train: no task given; pass task='in-context-recall' (see madcpp.tasks or 'mad tasks')");
  tasks::TaskSettings settings =
      tasks::settings_from_config(task_map, tasks::protocol_grid(tasks::task_from_name(task->as_string())).baseline);
  tasks::validate(settings);
  const config::Value t = config::load_string(training_yaml, "training");
  t.check_keys({"epochs", "batch_size", "lr", "min_lr", "weight_decay", "weight_decay_groups"}, "training settings");
  TrainConfig c;
  c.epochs = t.get<int64_t>("epochs", c.epochs);
  c.batch_size = t.get<int64_t>("batch_size", c.batch_size);
  c.lr = t.get<double>("lr", c.lr);
  c.min_lr = t.get<double>("min_lr", c.min_lr);
  c.weight_decay = t.get<double>("weight_decay", c.weight_decay);
  c.weight_decay_groups = weight_decay_groups_from_name(t.get<std::string>("weight_decay_groups", "all"));
  c.seed = static_cast<uint64_t>(settings.seed);
  std::optional<CallbackObserver> observer;
  if (callback) observer.emplace(cli::train_key(spec, settings, c, precision), *callback);
  // Training runs without the GIL: other Python threads (a notebook's UI, a progress poller) go on.
  py::gil_scoped_release no_gil;
  return config::canonical(cli::train_json(spec, settings, c, threads, precision, observer ? &*observer : nullptr));
}

}  // namespace
}  // namespace mad::python

PYBIND11_MODULE(_madcpp, m) {
  using namespace mad;
  m.doc() = "madcpp's C++ core; use the module madcpp";
  m.def("scores", [](const std::string& db, const std::string& sweep, bool by_setting, const std::string& stat) {
    return config::canonical(cli::scores_json(db, sweep, by_setting, stat));
  });
  m.def("runs", [](const std::string& db, const std::string& status) { return config::canonical(cli::runs_json(db, status)); });
  m.def("run_show", [](const std::string& db, const std::string& key) { return config::canonical(cli::run_show_json(db, key)); });
  m.def("layers", [](int64_t dim, int64_t seq_len) { return config::canonical(cli::layers_json(dim, seq_len)); });
  m.def("describe", &python::describe);
  m.def("sweep_plan", &python::sweep_plan);
  m.def("train", &python::train, py::arg("arch"), py::arg("settings"), py::arg("training"), py::arg("threads"),
        py::arg("precision"), py::arg("callback") = py::none());
}
