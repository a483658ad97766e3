// `mad normalize`: one architecture resized to a total fixed state (and optionally a parameter count) by
// choosing each layer's size knobs (models/normalize.h); prints the resulting spec as YAML, loadable by
// --arch, with what changed as YAML comments.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <fstream>

#include "apps/commands.h"
#include "config/atomic_file.h"
#include "apps/option_checks.h"
#include "core/error.h"
#include "models/normalize.h"
#include "sweeps/train_run.h"
#include "tasks/protocol_grid.h"

namespace mad::cli {
namespace {

struct NormalizeOptions {
  std::string arch_file;
  int64_t state = 0, params = 0;
  std::string task;
  int64_t seq_len = 0, vocab_size = 0;  // 0: the task's baseline, or 128 and 16 without a task
  std::string output;
};

// Every line of `text` as a YAML comment.
std::string commented(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    out += "# " + text.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

void run_normalize(const NormalizeOptions& o) {
  MAD_CHECK(o.state > 0, "--state {}: give the target total state, a positive number of floats (e.g. --state 4096)",
            o.state);
  MAD_CHECK(o.params >= 0, "--params {}: give a positive parameter count, or leave --params out", o.params);
  const models::ArchSpec spec = models::arch_from_file(o.arch_file);
  models::NormalizeShape shape;
  std::string shape_text;
  if (!o.task.empty()) {
    const std::optional<tasks::TaskId> shorthand = tasks::task_from_shorthand(o.task);
    const tasks::TaskId id = shorthand ? *shorthand : tasks::task_from_name(o.task);
    tasks::TaskSettings settings = tasks::protocol_grid(id).baseline;
    if (o.seq_len > 0) settings.seq_len = o.seq_len;
    if (o.vocab_size > 0) settings.vocab_size = o.vocab_size;
    shape = sweeps::task_shape(settings);
    shape_text = fmt::format("{} (V={}, inputs of {} tokens)", tasks::task_info(id).name, shape.vocab_size, shape.seq_len);
  } else {
    shape.seq_len = o.seq_len > 0 ? o.seq_len : 128;
    shape.vocab_size = o.vocab_size > 0 ? o.vocab_size : 16;
    shape_text = fmt::format("language model (V={}, inputs of {} tokens)", shape.vocab_size, shape.seq_len);
  }
  const models::NormalizeTarget target{o.state, o.params};
  const models::NormalizeResult r = models::normalize(spec, shape, target);

  std::string text = commented(fmt::format("mad normalize {} --state {}{} at {}\n{}", o.arch_file, o.state,
                                           o.params > 0 ? fmt::format(" --params {}", o.params) : "", shape_text,
                                           models::normalize_report(r, target)));
  text += models::to_yaml(r.spec);
  if (o.output.empty()) {
    fmt::print("{}", text);
  } else {
    config::write_file_atomically(o.output, text);
    fmt::print(stderr, "{}", commented(models::normalize_report(r, target)));
  }
  // A target that could not be met is said on stderr as well, so that scripts piping the YAML notice.
  if (!r.state_exact)
    fmt::print(stderr, "mad normalize: state {} is not reachable exactly; the closest is {}\n", o.state, r.state);
  if (!r.params_within_tolerance)
    fmt::print(stderr, "mad normalize: parameters {} are outside 2% of the target {}\n", r.params, o.params);
}

}  // namespace

void setup_normalize(CLI::App& app) {
  auto o = std::make_shared<NormalizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "normalize",
      "Resize an architecture to a total fixed state (iso-state) and optionally a parameter count (iso-parameter)\n"
      "by choosing each layer's size knobs: heads, head widths, filter order, convolution or window width, hidden\n"
      "width. The total fixed state becomes exactly --state where the layers' knobs can reach it (otherwise the\n"
      "closest value, reported); with --params the parameters without embeddings land within 2% where possible;\n"
      "without it, each layer changes as little as possible. Identical layers get identical sizes when that\n"
      "reaches the state. Softmax attention's KV cache grows with the sequence: such layers stay as they are and\n"
      "their state is not counted (an architecture without a fixed-state mixer is an error). Prints the spec as\n"
      "YAML (loadable by --arch) after a commented summary; see docs/normalize.md.\n"
      "Example: mad normalize --arch hybrid.yml --state 4096 --params 400000 --task in-context-recall > iso.yml");
  cmd->add_option("--arch", o->arch_file, "YAML architecture spec")->required();
  cmd->add_option("--state", o->state, "target total fixed state, floats per sequence (e.g. 4096)")->check(int_in(1))->required();
  cmd->add_option("--params", o->params, "target parameter count without embeddings (as 'mad describe' counts it)")->check(int_in(1));
  cmd->add_option("--task", o->task, "measure at this task's baseline shape and backbone (name or shorthand)");
  cmd->add_option("--seq-len", o->seq_len, "sequence length (default: the task's, else 128)")->check(int_in(1));
  cmd->add_option("--vocab-size", o->vocab_size, "vocabulary size (default: the task's, else 16)")->check(int_in(2));
  cmd->add_option("--output,-o", o->output, "write the YAML to this file instead of stdout (summary on stderr)");
  cmd->callback([o] { run_normalize(*o); });
}

}  // namespace mad::cli
