// `mad describe`: one architecture's cost, layer by layer: parameters, state carried between tokens and
// forward FLOPs per token, with totals (models/describe.h).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "apps/api.h"
#include "apps/commands.h"
#include "apps/option_checks.h"
#include "config/canonical.h"
#include "core/error.h"
#include "models/describe.h"
#include "models/draw.h"
#include "sweeps/train_run.h"
#include "tasks/protocol_grid.h"

namespace mad::cli {
namespace {

struct DescribeOptions {
  std::vector<std::string> layers;
  std::string arch_file;
  int64_t dim = 128;
  CLI::Option* dim_option = nullptr;
  std::string task;
  int64_t seq_len = 0, vocab_size = 0;  // 0: the task's baseline, or 128 and 16 without a task
  int64_t batch = 128;
  bool json = false;
  std::string graph;  // dot | svg: draw the spec instead of the table
};

std::string state_text(const models::StateSize& s) {
  if (s.fixed) return fmt::format("{}", s.floats);
  return s.fixed_part > 0 ? fmt::format("{} (grows; {} fixed)", s.floats, s.fixed_part) : fmt::format("{} (grows)", s.floats);
}

tasks::TaskId task_id(const std::string& task) {
  const std::optional<tasks::TaskId> shorthand = tasks::task_from_shorthand(task);
  return shorthand ? *shorthand : tasks::task_from_name(task);
}

// The task's baseline with seq_len and vocab_size overridden when > 0.
tasks::TaskSettings task_settings(const std::string& task, int64_t seq_len, int64_t vocab_size) {
  tasks::TaskSettings settings = tasks::protocol_grid(task_id(task)).baseline;
  if (seq_len > 0) settings.seq_len = seq_len;
  if (vocab_size > 0) settings.vocab_size = vocab_size;
  return settings;
}

void run_describe(const DescribeOptions& o) {
  MAD_CHECK(o.layers.empty() != o.arch_file.empty(), "give the architecture with --layers NAME... or --arch FILE (one of them)");
  const int64_t dim_override = o.dim_option->count() ? o.dim : 0;
  const models::ArchSpec spec = o.arch_file.empty() ? models::arch_from_names(o.layers, o.dim)
                                                    : models::arch_from_file(o.arch_file, models::builtin_layers(), dim_override);
  if (!o.graph.empty()) {  // a drawing of the spec (models/draw.h)
    MAD_CHECK(o.graph == "dot" || o.graph == "svg", "--graph: unknown format '{}'; use dot or svg", o.graph);
    fmt::print("{}", o.graph == "dot" ? models::arch_dot(spec) : models::arch_svg(spec));
    return;
  }
  const models::ArchDescription d = describe_at_task(spec, o.task, o.seq_len, o.vocab_size);
  if (o.json) {
    fmt::print("{}\n", config::canonical(describe_json(spec, d, o.batch)));
    return;
  }
  const std::string shape =
      (o.task.empty() ? fmt::format("language model (V={})", d.vocab_size)
                      : fmt::format("{} (V={}, seq_len={})", tasks::task_info(task_id(o.task)).name, d.vocab_size,
                                    task_settings(o.task, o.seq_len, o.vocab_size).seq_len)) +
      fmt::format(", inputs of {} tokens", d.seq_len);
  fmt::print("{} at D={}, {}\n\n", models::arch_summary(spec), spec.dim, shape);
  // The layer column as wide as its longest entry: a group's type ("parallel/add(mh-attention, hyena)")
  // or a shared brick's label is longer than any layer name.
  size_t width = 24;
  for (const models::LayerDescription& l : d.layers) width = std::max(width, l.type.size());
  for (const models::BrickDescription& b : d.bricks) width = std::max(width, b.name.size() + 13);
  fmt::print("{:>3}  {:<{}} {:>10} {:>16} {:>16}\n", "#", "layer", width, "params", "state (floats)", "MFLOP/token");
  for (size_t i = 0; i < d.layers.size(); ++i) {
    const models::LayerDescription& l = d.layers[i];
    fmt::print("{:>3}  {:<{}} {:>10} {:>16} {:>16.3f}\n", i, l.type, width, l.params, state_text(l.state),
               l.flops_per_token / 1e6);
  }
  for (const models::BrickDescription& b : d.bricks)
    fmt::print("     {:<{}} {:>10}  (counted once; used {}x, state and FLOPs per use)\n", "shared brick " + b.name, width,
               b.params, b.uses);
  fmt::print("\nparameters without embeddings: {}\n", d.params);
  fmt::print("total state: {} floats per sequence{}\n", d.total_state,
             d.fixed_state ? " (fixed)"
                           : fmt::format(" at L={}; NOT fixed-state: attention's KV cache grows with L{}", d.seq_len,
                                         o.task.empty() ? " (--task T: at the task's input length, as 'mad sweep "
                                                          "plan' reports it; 127 for the recall tasks)"
                                                        : ""));
  fmt::print("forward: {:.3f} MFLOP per token; training step at batch {}: {:.1f} GFLOP\n", d.flops_per_token / 1e6, o.batch,
             d.train_step_flops(o.batch) / 1e9);
}

}  // namespace

models::ArchDescription describe_at_task(const models::ArchSpec& spec, const std::string& task, int64_t seq_len,
                                         int64_t vocab_size) {
  if (!task.empty()) return models::describe(sweeps::build_task_model(spec, task_settings(task, seq_len, vocab_size)));
  return models::describe(models::Model(spec, models::BackboneKind::language_model, vocab_size > 0 ? vocab_size : 16,
                                        seq_len > 0 ? seq_len : 128));
}

config::Value describe_json(const models::ArchSpec& spec, const models::ArchDescription& d, int64_t batch) {
  config::Value out = config::Value::map();
  config::Value layers = config::Value::list();
  for (const models::LayerDescription& l : d.layers) {
    config::Value v = config::Value::map();
    v.set("type", l.type);
    v.set("params", config::Value(l.params));
    v.set("state", config::Value(l.state.floats));
    v.set("fixed_state", l.state.fixed);
    v.set("flops_per_token", l.flops_per_token);
    layers.push_back(v);
  }
  out.set("layers", layers);
  config::Value bricks = config::Value::list();
  for (const models::BrickDescription& b : d.bricks) {
    config::Value v = config::Value::map();
    v.set("name", b.name);
    v.set("params", config::Value(b.params));
    v.set("uses", b.uses);
    bricks.push_back(v);
  }
  out.set("shared_bricks", bricks);
  out.set("total_params", config::Value(d.params));
  out.set("total_state", config::Value(d.total_state));
  out.set("fixed_state", d.fixed_state);
  out.set("flops_per_token", d.flops_per_token);
  out.set("train_step_flops", d.train_step_flops(batch));
  out.set("batch_size", config::Value(batch));
  out.set("vocab_size", config::Value(d.vocab_size));
  out.set("seq_len", config::Value(d.seq_len));
  out.set("dim", config::Value(spec.dim));
  return out;
}

void setup_describe(CLI::App& app) {
  auto o = std::make_shared<DescribeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "describe",
      "Per layer and in total: parameters, state carried between tokens (floats per sequence) and FLOPs.\n"
      "Example: mad describe --layers mh-attention swiglu mh-attention swiglu --task in-context-recall");
  cmd->add_option("--layers", o->layers, "layer names (see 'mad layers')");
  cmd->add_option("--arch", o->arch_file, "YAML architecture spec");
  o->dim_option = cmd->add_option("--dim", o->dim, "model width D")->check(int_in(1))->capture_default_str();
  cmd->add_option("--task", o->task, "describe at this task's baseline shape and backbone (name or shorthand)");
  cmd->add_option("--seq-len", o->seq_len, "sequence length (default: the task's, else 128)")->check(int_in(1));
  cmd->add_option("--vocab-size", o->vocab_size, "vocabulary size (default: the task's, else 16)")->check(int_in(2));
  cmd->add_option("--batch-size", o->batch, "batch size of the training-step FLOP count")->check(int_in(1))->capture_default_str();
  cmd->add_flag("--json", o->json, "one JSON object with layers, total_params, total_state, fixed_state, FLOPs");
  cmd->add_option("--graph", o->graph, "draw the spec instead: dot (Graphviz) or svg (entries, groups, bricks, wiring nodes)");
  cmd->callback([o] { run_describe(*o); });
}

}  // namespace mad::cli
