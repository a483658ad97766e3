// `mad data generate`: write one task setting's dataset as .npy files in the reference layout.
// `mad data inspect`: shapes, token ranges, labelled positions and one decoded example of a dataset
// directory (ours, or the published MAD benchmark data).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "apps/task_options.h"
#include "core/error.h"
#include "tasks/data_dir.h"
#include "tasks/dataset_name.h"
#include "tasks/protocol_grid.h"
#include "tasks/vocabulary.h"

namespace mad::cli {
namespace {

namespace fs = std::filesystem;
using tasks::TokenMatrix;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string shape(const TokenMatrix& m) { return fmt::format("[{}, {}]", m.rows, m.cols); }

// ---- generate --------------------------------------------------------------------------------------

struct GenerateOptions {
  TaskOptions task;  // --task, --settings FILE, one flag per setting (apps/task_options.h)
  std::string out;
  std::string root;
  bool force = false;
};

void run_generate(const GenerateOptions& o) {
  const tasks::TaskSettings settings = resolve_task_settings(o.task);
  const fs::path dir = o.out.empty() ? fs::path(o.root) / tasks::dataset_dir_name(settings) : fs::path(o.out);

  const auto start = std::chrono::steady_clock::now();
  const tasks::Dataset dataset = tasks::generate_dataset(settings);
  const double generate_seconds = seconds_since(start);
  if (const auto warning = tasks::leakage_warning(dataset)) std::fprintf(stderr, "mad: warning: %s\n", warning->c_str());

  const auto write_start = std::chrono::steady_clock::now();
  tasks::write_dataset_dir(dir, dataset, settings, o.force);
  const double write_seconds = seconds_since(write_start);

  fmt::print("{}\n", tasks::describe(settings));
  fmt::print("wrote {}\n", dir.string());
  for (const auto& [split, data] : {std::pair{"train", &dataset.train}, std::pair{"test", &dataset.test}}) {
    fmt::print("  {:<18} int64 {}\n", fmt::format("{}/inputs.npy", split), shape(data->inputs));
    fmt::print("  {:<18} int64 {}\n", fmt::format("{}/targets.npy", split), shape(data->targets));
  }
  fmt::print("  {}\n", tasks::kSettingsFileName);
  fmt::print("generated {} + {} sequences in {:.3f} s, wrote the files in {:.3f} s\n", settings.num_train_examples,
             settings.num_test_examples, generate_seconds, write_seconds);
}

// ---- inspect ---------------------------------------------------------------------------------------

struct InspectOptions {
  std::string dir;
  std::string split = "test";
  int64_t row = 0;
  bool full = false;
};

struct TokenStats {
  int32_t min = INT32_MAX, max = INT32_MIN;
  int64_t ignored = 0;
};

TokenStats token_stats(const TokenMatrix& m) {
  TokenStats stats;
  for (int32_t t : m.data) {
    if (t == tasks::kIgnoreIndex) {
      ++stats.ignored;
      continue;
    }
    stats.min = std::min(stats.min, t);
    stats.max = std::max(stats.max, t);
  }
  return stats;
}

std::string range_text(const TokenStats& s) {
  return s.min > s.max ? "none" : fmt::format("{}..{}", s.min, s.max);
}

// Labelled (non-ignored) targets per sequence: "mean [min, max]".
std::string labelled_text(const TokenMatrix& targets) {
  int64_t total = 0, least = INT64_MAX, most = 0;
  for (int64_t r = 0; r < targets.rows; ++r) {
    const auto row = targets.row(r);
    const auto n = std::count_if(row.begin(), row.end(), [](int32_t t) { return t != tasks::kIgnoreIndex; });
    total += n;
    least = std::min<int64_t>(least, n);
    most = std::max<int64_t>(most, n);
  }
  if (targets.rows == 0) return "-";
  return fmt::format("{:.2f} [{}, {}]", static_cast<double>(total) / static_cast<double>(targets.rows), least, most);
}

// Prints one sequence as aligned input/target rows, 16 positions per block; '.' marks an ignored target.
void print_example(const TokenMatrix& inputs, const TokenMatrix& targets, int64_t row,
                   const std::optional<tasks::Vocabulary>& vocab, bool full) {
  const auto name = [&](int32_t token) {
    if (token == tasks::kIgnoreIndex) return std::string(".");
    return vocab ? tasks::token_name(*vocab, token) : std::to_string(token);
  };
  const int64_t length = inputs.cols;
  constexpr int64_t kEdge = 32;  // positions shown at each end unless --full
  std::vector<int64_t> positions;
  for (int64_t p = 0; p < length; ++p) {
    if (full || length <= 2 * kEdge || p < kEdge || p >= length - kEdge) positions.push_back(p);
  }
  size_t width = 3;
  for (int64_t p : positions) {
    width = std::max({width, std::to_string(p).size() + 1, name(inputs.row(row)[p]).size() + 1,
                      name(targets.row(row)[p]).size() + 1});
  }
  constexpr size_t kPerBlock = 16;
  for (size_t start = 0; start < positions.size(); start += kPerBlock) {
    if (start > 0 && positions[start] != positions[start - 1] + 1) fmt::print("  ...\n");
    std::string pos_line = "     pos", input_line = "   input", target_line = "  target";
    for (size_t i = start; i < std::min(positions.size(), start + kPerBlock); ++i) {
      const int64_t p = positions[i];
      pos_line += fmt::format("{:>{}}", p, width);
      input_line += fmt::format("{:>{}}", name(inputs.row(row)[p]), width);
      target_line += fmt::format("{:>{}}", name(targets.row(row)[p]), width);
    }
    fmt::print("{}\n{}\n{}\n", pos_line, input_line, target_line);
  }
}

void run_inspect(const InspectOptions& o) {
  const fs::path dir = o.dir;
  MAD_CHECK(fs::is_directory(dir), "dataset directory '{}' does not exist", dir.string());
  MAD_CHECK(o.split == "train" || o.split == "test", "--split must be train or test, not '{}'", o.split);
  const std::optional<tasks::TaskSettings> settings = tasks::settings_for_dir(dir);
  const tasks::Dataset data = tasks::read_dataset_dir(dir, settings);
  const tasks::SplitData& example = o.split == "train" ? data.train : data.test;
  MAD_CHECK(o.row >= 0 && o.row < example.inputs.rows, "--row {} is out of range: the {} split has {} sequences",
            o.row, o.split, example.inputs.rows);

  fmt::print("dataset   {}\n", dir.string());
  if (settings) {
    fmt::print("settings  {} (from {})\n", tasks::describe(*settings),
               fs::exists(dir / tasks::kSettingsFileName) ? tasks::kSettingsFileName : "the directory name");
  } else {
    fmt::print("settings  unknown (no {} and not a reference directory name): tokens are shown as ids and not "
               "checked against a vocabulary\n",
               tasks::kSettingsFileName);
  }
  fmt::print("\n{:<6} {:<14} {:<11} {:<11} {:<8} {}\n", "split", "shape", "input ids", "target ids", "ignored",
             "labelled per sequence: mean [min, max]");
  for (const auto& [split, part] : {std::pair{"train", &data.train}, std::pair{"test", &data.test}}) {
    const TokenStats targets = token_stats(part->targets);
    const double ignored = 100.0 * static_cast<double>(targets.ignored) /
                           static_cast<double>(std::max<size_t>(1, part->targets.data.size()));
    fmt::print("{:<6} {:<14} {:<11} {:<11} {:<8} {}\n", split, shape(part->inputs),
               range_text(token_stats(part->inputs)), range_text(targets), fmt::format("{:.1f}%", ignored),
               labelled_text(part->targets));
  }
  fmt::print("leakage   {:.2f}% of the distinct test inputs occur in the train set\n",
             100.0 * tasks::test_inputs_in_train(data));

  fmt::print("\nexample   {} sequence {} ({} positions{}; '.' = ignored target)\n", o.split, o.row,
             example.inputs.cols, o.full || example.inputs.cols <= 64 ? "" : ", the first and last 32 shown; --full shows all");
  std::optional<tasks::Vocabulary> vocab;
  if (settings) vocab = tasks::vocabulary(*settings);
  print_example(example.inputs, example.targets, o.row, vocab, o.full);
}

}  // namespace

void setup_data(CLI::App& app) {
  CLI::App* data = app.add_subcommand("data", "Generate or inspect MAD datasets (.npy files in the reference layout)");
  data->require_subcommand(1);

  auto generate = std::make_shared<GenerateOptions>();
  CLI::App* gen = data->add_subcommand(
      "generate", "Generate one task setting (the task's protocol baseline, changed by the flags) and write it");
  add_task_options(gen, generate->task, true);
  CLI::Option* out = gen->add_option("--out", generate->out, "write the dataset to this directory");
  CLI::Option* root = gen->add_option(
      "--root", generate->root, "write the dataset to ROOT/<reference directory name> (e.g. t-CR_vs-16_sl-128_...)");
  out->excludes(root);
  gen->add_flag("--force", generate->force, "overwrite an existing dataset");
  gen->callback([generate, out, root] {
    MAD_CHECK(out->count() + root->count() == 1, "data generate: give --out DIR or --root DIR");
    run_generate(*generate);
  });

  auto inspect = std::make_shared<InspectOptions>();
  CLI::App* ins = data->add_subcommand(
      "inspect", "Print shapes, token ranges, labelled positions and one decoded sequence of a dataset directory");
  ins->add_option("dir", inspect->dir, "dataset directory (train/ and test/ with inputs.npy and targets.npy)")->required();
  ins->add_option("--split", inspect->split, "split of the example: train or test")->capture_default_str();
  ins->add_option("--row", inspect->row, "sequence shown as the example")->check(int_in(0))->capture_default_str();
  ins->add_flag("--full", inspect->full, "show every position of the example");
  ins->callback([inspect] { run_inspect(*inspect); });
}

}  // namespace mad::cli
