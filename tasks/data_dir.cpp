#include "config/atomic_file.h"
#include "tasks/data_dir.h"

#include <fmt/format.h>

#include <fstream>

#include "config/canonical.h"
#include "config/yaml.h"
#include "core/error.h"
#include "tasks/dataset_name.h"
#include "tasks/npy.h"

namespace mad::tasks {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSplitNames[] = {"train", "test"};
constexpr const char* kFileNames[] = {"inputs.npy", "targets.npy"};

SplitData read_split(const fs::path& dir, const char* split) {
  const fs::path inputs_path = dir / split / "inputs.npy";
  const fs::path targets_path = dir / split / "targets.npy";
  for (const fs::path& path : {inputs_path, targets_path}) {
    MAD_CHECK(fs::is_regular_file(path), "{}: missing (a dataset directory holds train/ and test/, each with "
              "inputs.npy and targets.npy)", path.string());
  }
  SplitData data{read_npy(inputs_path), read_npy(targets_path)};
  MAD_CHECK(data.inputs.rows == data.targets.rows && data.inputs.cols == data.targets.cols,
            "{}: shape [{}, {}] differs from {} [{}, {}]; inputs and targets must have the same shape",
            targets_path.string(), data.targets.rows, data.targets.cols, inputs_path.string(), data.inputs.rows,
            data.inputs.cols);
  return data;
}

// Every input in [0, V); every target in [0, V) or kIgnoreIndex.
void check_tokens(const TokenMatrix& m, bool targets, const TaskSettings& s, const fs::path& path) {
  for (size_t i = 0; i < m.data.size(); ++i) {
    const int32_t token = m.data[i];
    if ((token >= 0 && token < s.vocab_size) || (targets && token == kIgnoreIndex)) continue;
    fail(fmt::format("{}: token {} at row {}, position {} is outside the vocabulary [0, {}) of {} (vocab_size {}){}",
                     path.string(), token, i / static_cast<size_t>(m.cols), i % static_cast<size_t>(m.cols),
                     s.vocab_size, task_info(s.task).name, s.vocab_size,
                     targets ? fmt::format("; ignored targets must be {}", kIgnoreIndex) : ""));
  }
}

void check_against_settings(const fs::path& dir, const SplitData& data, const char* split, int64_t rows,
                            const TaskSettings& s) {
  const fs::path inputs_path = dir / split / "inputs.npy";
  MAD_CHECK(data.inputs.cols == sequence_length(s),
            "{}: sequences of length {}, but {} with seq_len {} has length {}", inputs_path.string(),
            data.inputs.cols, task_info(s.task).name, s.seq_len, sequence_length(s));
  MAD_CHECK(data.inputs.rows == rows, "{}: {} sequences, but the settings say num_{}_examples={}",
            inputs_path.string(), data.inputs.rows, split, rows);
  check_tokens(data.inputs, false, s, inputs_path);
  check_tokens(data.targets, true, s, dir / split / "targets.npy");
}

}  // namespace

void write_dataset_dir(const fs::path& dir, const Dataset& dataset, const TaskSettings& settings, bool overwrite) {
  for (const char* split : kSplitNames) {
    for (const char* file : kFileNames) {
      MAD_CHECK(overwrite || !fs::exists(dir / split / file),
                "{} already holds a dataset ({} exists); choose another directory or overwrite it (--force)", dir.string(),
                (fs::path(split) / file).string());
    }
  }
  std::error_code ec;
  for (const char* split : kSplitNames) {
    fs::create_directories(dir / split, ec);
    MAD_CHECK(!ec, "cannot create directory '{}': {}", (dir / split).string(), ec.message());
  }
  write_npy(dir / "train" / "inputs.npy", dataset.train.inputs);
  write_npy(dir / "train" / "targets.npy", dataset.train.targets);
  write_npy(dir / "test" / "inputs.npy", dataset.test.inputs);
  write_npy(dir / "test" / "targets.npy", dataset.test.targets);
  config::write_file_atomically(dir / kSettingsFileName, config::canonical(to_config(settings)) + "\n");
}

std::optional<TaskSettings> settings_for_dir(const fs::path& dir) {
  const fs::path settings_path = dir / kSettingsFileName;
  if (fs::exists(settings_path)) {
    TaskSettings settings = settings_from_config(config::load_file(settings_path));
    try {
      validate(settings);
    } catch (const Error& e) {
      fail(fmt::format("{}: {}", settings_path.string(), e.what()));
    }
    return settings;
  }
  // "DIR/" has an empty filename; the directory's own name is what matters.
  const fs::path normal = dir.lexically_normal();
  const std::string name = (normal.has_filename() ? normal : normal.parent_path()).filename().string();
  std::optional<TaskSettings> settings = parse_dataset_dir_name(name);
  if (settings) {
    try {
      validate(*settings);
    } catch (const Error& e) {
      fail(fmt::format("dataset directory name '{}': {}", name, e.what()));
    }
  }
  return settings;
}

Dataset read_dataset_dir(const fs::path& dir, const std::optional<TaskSettings>& settings) {
  MAD_CHECK(fs::is_directory(dir), "dataset directory '{}' does not exist", dir.string());
  Dataset dataset{read_split(dir, "train"), read_split(dir, "test")};
  MAD_CHECK(dataset.train.inputs.cols == dataset.test.inputs.cols,
            "{}: train sequences have length {} but test sequences {}; both splits must have the same length",
            dir.string(), dataset.train.inputs.cols, dataset.test.inputs.cols);
  if (settings) {
    check_against_settings(dir, dataset.train, "train", settings->num_train_examples, *settings);
    check_against_settings(dir, dataset.test, "test", settings->num_test_examples, *settings);
  }
  return dataset;
}

}  // namespace mad::tasks
