// Datasets on disk, in the reference's layout:
//   DIR/train/inputs.npy  DIR/train/targets.npy  DIR/test/inputs.npy  DIR/test/targets.npy
// (int64 [N, length] each). We also write DIR/settings.json, the canonical settings, so that `mad data
// inspect` and `mad train --data-dir` know the task; the reference ignores it. A directory without it is
// recognised by its reference name (dataset_name.h).
#pragma once

#include <filesystem>
#include <optional>

#include "tasks/dataset.h"
#include "tasks/settings.h"

namespace mad::tasks {

inline constexpr const char* kSettingsFileName = "settings.json";

// Writes the four .npy files and settings.json. Refuses to replace an existing dataset unless `overwrite`.
void write_dataset_dir(const std::filesystem::path& dir, const Dataset& dataset, const TaskSettings& settings,
                       bool overwrite);

// The settings of a dataset directory: DIR/settings.json if present, else those encoded in the directory's
// reference name, else nullopt.
std::optional<TaskSettings> settings_for_dir(const std::filesystem::path& dir);

// Reads the four files and checks that inputs and targets of each split have the same shape and that both
// splits have the same sequence length. With settings, also checks the sequence length, the number of
// sequences and that every token is in the vocabulary (targets may be -100). Errors name the file.
Dataset read_dataset_dir(const std::filesystem::path& dir, const std::optional<TaskSettings>& settings);

}  // namespace mad::tasks
