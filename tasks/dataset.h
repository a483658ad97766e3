// Datasets: the train and test sets of one task setting, generated or read from files.
#pragma once

#include <optional>
#include <string>

#include "tasks/settings.h"
#include "tasks/token_matrix.h"

namespace mad::tasks {

// inputs and targets have the same shape [N, sequence_length].
struct SplitData {
  TokenMatrix inputs;
  TokenMatrix targets;
};

struct Dataset {
  SplitData train;
  SplitData test;
};

// Generates num_train_examples train sequences, then num_test_examples test sequences, from one
// generator seeded with settings.seed: the same settings give the same dataset on every machine.
// Validates the settings first.
Dataset generate_dataset(const TaskSettings& settings);

// The fraction of distinct test input rows that also occur in the train inputs (the reference's
// check_for_leakage).
double test_inputs_in_train(const Dataset& dataset);
// The reference's warning when more than 0.1% of the test inputs occur in the train set.
std::optional<std::string> leakage_warning(const Dataset& dataset);

}  // namespace mad::tasks
