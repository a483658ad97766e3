#include "sweeps/sweep_spec.h"

#include <fmt/format.h>

#include <set>

#include "config/canonical.h"
#include "config/yaml.h"
#include "core/error.h"
#include "models/normalize.h"
#include "sweeps/train_run.h"
#include "tasks/protocol_grid.h"
#include "tasks/task.h"

namespace mad::sweeps {
namespace {

constexpr std::string_view kKeys[] = {"name",   "architectures", "tasks",      "protocol", "settings",
                                      "task_overrides", "lr",   "weight_decay", "epochs",  "batch_size", "seeds",
                                      "iso_state", "iso_params", "search", "precision",
                                      "weight_decay_groups"};

// Runs `body`; a mad::Error from it is re-thrown prefixed with where `value` is in the spec, so that
// an error of a layer or a task setting names the spec's file and line.
template <class F>
auto at_value(const config::Value& value, F&& body) {
  try {
    return body();
  } catch (const Error& e) {
    const std::string what = e.what();
    const std::string where = value.where();
    if (where.empty() || what.starts_with(where)) throw;
    fail(fmt::format("{}: {}", where, what));
  }
}

tasks::TaskId task_named(const config::Value& value) {
  const std::string& name = value.as_string();
  if (auto id = tasks::task_from_shorthand(name)) return *id;
  return at_value(value, [&] { return tasks::task_from_name(name); });
}

SweepArchitecture architecture(const std::string& name, const config::Value& value, const std::filesystem::path& base) {
  const auto named = [&](models::ArchSpec spec) {
    SweepArchitecture a;
    a.name = name;
    a.spec = std::move(spec);
    return a;
  };
  return at_value(value, [&] {
    if (value.is_list()) return named(models::arch_from_names(value.as<std::vector<std::string>>(), 128));
    MAD_CHECK(value.is_map(), "architecture '{}' must be a list of layer names, a spec map or {{file: PATH}}, got {}",
              name, value.describe());
    if (const config::Value* file = value.find("file")) {
      value.check_keys({"file"}, "architecture given by file");
      return named(models::arch_from_file((base / file->as_string()).string()));
    }
    return named(models::arch_from_config(value));
  });
}

template <class T>
std::vector<T> nonempty_list(const config::Value& doc, std::string_view key, std::vector<T> fallback) {
  const config::Value* value = doc.find(key);
  if (!value) return fallback;
  std::vector<T> items = value->is_list() ? value->as<std::vector<T>>() : std::vector<T>{value->as<T>()};
  MAD_CHECK(!items.empty(), "{}: '{}' is empty; give at least one value or leave it out for the default", value->where(), key);
  return items;
}

// The task settings before overrides and seeds: the protocol grid, the baselines, or the explicit list.
std::vector<tasks::TaskSettings> base_settings(const config::Value& doc) {
  std::vector<tasks::TaskId> task_ids;
  if (const config::Value* list = doc.find("tasks")) {
    MAD_CHECK(list->is_list() && !list->as_list().empty(), "{}: 'tasks' must be a non-empty list of task names",
              list->where());
    for (const config::Value& t : list->as_list()) task_ids.push_back(task_named(t));
  } else {
    for (const tasks::TaskInfo& t : tasks::all_tasks()) task_ids.push_back(t.id);
  }

  std::vector<tasks::TaskSettings> out;
  if (const config::Value* explicit_settings = doc.find("settings")) {
    MAD_CHECK(!doc.contains("protocol"), "{}: give either 'protocol' or 'settings', not both", explicit_settings->where());
    MAD_CHECK(!doc.contains("tasks"), "{}: with explicit 'settings' each names its task; remove 'tasks'",
              explicit_settings->where());
    MAD_CHECK(explicit_settings->is_list() && !explicit_settings->as_list().empty(),
              "{}: 'settings' must be a non-empty list of maps like {{task: in-context-recall, seq_len: 256}}",
              explicit_settings->where());
    for (const config::Value& item : explicit_settings->as_list()) {
      MAD_CHECK(item.is_map() && item.contains("task"), "{}: each setting is a map with a 'task' key", item.where());
      const tasks::TaskId id = task_named(item.at("task"));
      config::Value changes = item;
      changes.set("task", std::string(tasks::task_info(id).name));
      out.push_back(at_value(item, [&] { return tasks::settings_from_config(changes, tasks::protocol_grid(id).baseline); }));
    }
    return out;
  }
  const std::string protocol = doc.get<std::string>("protocol", "mad");
  MAD_CHECK(protocol == "mad" || protocol == "baselines", "{}: unknown protocol '{}'; use mad or baselines",
            doc.at("protocol").where(), protocol);
  for (tasks::TaskId id : task_ids) {
    const tasks::TaskGrid& grid = tasks::protocol_grid(id);
    if (protocol == "baselines") out.push_back(grid.baseline);
    else for (const tasks::TaskSettings& s : tasks::expand_grid(grid)) out.push_back(s);
  }
  return out;
}

// iso_state / iso_params: every architecture normalised (models/normalize.h) at the shape of the sweep's first
// task setting, once, so that all its runs train the same spec. The original is kept for `mad sweep plan`.
void normalize_architectures(const config::Value& doc, SweepSpec& spec) {
  const config::Value* iso_state = doc.find("iso_state");
  const config::Value* iso_params = doc.find("iso_params");
  if (!iso_state) {
    MAD_CHECK(!iso_params, "{}: iso_params needs iso_state (the state target comes first); add iso_state: N",
              iso_params->where());
    return;
  }
  spec.iso_state = iso_state->as_int();
  MAD_CHECK(spec.iso_state > 0, "{}: iso_state must be a positive number of state floats per sequence (e.g. 4096), got {}",
            iso_state->where(), spec.iso_state);
  if (iso_params) {
    spec.iso_params = iso_params->as_int();
    MAD_CHECK(spec.iso_params > 0, "{}: iso_params must be a positive parameter count, got {}", iso_params->where(),
              spec.iso_params);
  }
  const models::NormalizeShape shape = task_shape(spec.settings.front());
  const config::Value& archs = doc.at("architectures");
  for (SweepArchitecture& a : spec.architectures) {
    const models::NormalizeResult r = at_value(archs.at(a.name), [&] {
      try {
        return models::normalize(a.spec, shape, {spec.iso_state, spec.iso_params});
      } catch (const Error& e) {
        fail(fmt::format("architecture '{}' under iso_state {}: {}", a.name, spec.iso_state, e.what()));
      }
    });
    a.normalized = true;
    a.original = a.spec;
    a.spec = r.spec;
    a.original_state = r.state_before;
    a.original_params = r.params_before;
    a.state = r.state;
    a.params = r.params;
    a.state_exact = r.state_exact;
    a.params_within_tolerance = r.params_within_tolerance;
  }
}

}  // namespace

SweepSpec sweep_from_config(const config::Value& doc, const std::filesystem::path& base_dir) {
  MAD_CHECK(doc.is_map(), "{}: a sweep spec is a map with name, architectures, ... (see configs/sweeps/quick.yml)",
            doc.where());
  doc.check_keys(kKeys, "sweep spec");
  SweepSpec spec;
  spec.name = doc.get<std::string>("name");
  MAD_CHECK(!spec.name.empty(), "{}: the sweep's name is empty", doc.at("name").where());

  const config::Value& archs = doc.at("architectures");
  MAD_CHECK(archs.is_map() && !archs.as_map().empty(),
            "{}: 'architectures' must map at least one name to a layer list, a spec or {{file: PATH}}", archs.where());
  config::Value resolved_archs = config::Value::map();
  for (const auto& [name, value] : archs.as_map()) spec.architectures.push_back(architecture(name, value, base_dir));

  spec.lrs = nonempty_list<double>(doc, "lr", spec.lrs);
  spec.weight_decays = nonempty_list<double>(doc, "weight_decay", spec.weight_decays);
  spec.seeds = nonempty_list<int64_t>(doc, "seeds", spec.seeds);
  for (double lr : spec.lrs) MAD_CHECK(lr > 0 && lr < 1, "{}: lr {} is outside (0, 1)", doc.at("lr").where(), lr);
  for (double wd : spec.weight_decays)
    MAD_CHECK(wd >= 0, "{}: weight_decay {} is negative", doc.at("weight_decay").where(), wd);
  spec.epochs = doc.get<int64_t>("epochs", spec.epochs);
  spec.batch_size = doc.get<int64_t>("batch_size", spec.batch_size);
  MAD_CHECK(spec.epochs > 0, "{}: epochs must be positive, got {}", doc.at("epochs").where(), spec.epochs);
  MAD_CHECK(spec.batch_size > 0, "{}: batch_size must be positive, got {}", doc.at("batch_size").where(), spec.batch_size);
  spec.precision = doc.get<std::string>("precision", spec.precision);
  MAD_CHECK(spec.precision == "f32" || spec.precision == "bf16", "{}: precision must be f32 or bf16, got '{}'",
            doc.at("precision").where(), spec.precision);
  spec.weight_decay_groups = doc.get<std::string>("weight_decay_groups", spec.weight_decay_groups);
  MAD_CHECK(spec.weight_decay_groups == "all" || spec.weight_decay_groups == "no_norm_bias",
            "{}: weight_decay_groups must be all or no_norm_bias, got '{}'", doc.at("weight_decay_groups").where(),
            spec.weight_decay_groups);
  spec.search = search_from_config(doc.find("search"), spec.epochs, spec.lrs.size() * spec.weight_decays.size());

  // Overrides and seeds on top of the base settings; overrides can make two settings equal (a grid axis
  // overridden away), and those run once.
  const config::Value* overrides = doc.find("task_overrides");
  MAD_CHECK(!overrides || overrides->is_map(), "{}: 'task_overrides' must be a map of task settings", overrides->where());
  MAD_CHECK(!overrides || (!overrides->contains("task") && !overrides->contains("seed")),
            "{}: 'task_overrides' cannot change task or seed (use 'seeds')", overrides->where());
  std::set<std::string> seen;
  for (const tasks::TaskSettings& base : base_settings(doc)) {
    for (int64_t seed : spec.seeds) {
      tasks::TaskSettings s = overrides ? at_value(*overrides, [&] { return tasks::settings_from_config(*overrides, base); }) : base;
      s.seed = seed;
      at_value(overrides ? *overrides : doc, [&] {
        try {
          tasks::validate(s);
        } catch (const Error& e) {
          fail(fmt::format("{} (setting {})", e.what(), tasks::describe(s)));
        }
        return 0;
      });
      if (seen.insert(config::canonical(tasks::to_config(s))).second) spec.settings.push_back(s);
    }
  }

  normalize_architectures(doc, spec);
  for (const SweepArchitecture& a : spec.architectures) resolved_archs.set(a.name, models::to_config(a.spec));

  spec.document = doc;
  spec.document.set("architectures", resolved_archs);
  return spec;
}

SweepSpec load_sweep(const std::filesystem::path& file) {
  MAD_CHECK(std::filesystem::exists(file), "{}: no such sweep spec; see configs/sweeps/ for examples", file.string());
  return sweep_from_config(config::load_file(file), file.parent_path());
}

}  // namespace mad::sweeps
