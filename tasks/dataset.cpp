#include "tasks/dataset.h"

#include <fmt/format.h>

#include <string_view>
#include <unordered_set>

#include "core/rng.h"
#include "tasks/generator.h"

namespace mad::tasks {

namespace {

SplitData generate_split(SequenceGenerator& generator, Rng& rng, Split split, int64_t rows, int64_t cols) {
  SplitData data{TokenMatrix(rows, cols), TokenMatrix(rows, cols)};
  for (int64_t r = 0; r < rows; ++r) generator.sample(rng, split, data.inputs.row(r), data.targets.row(r));
  return data;
}

// A row's bytes, as a hashable key.
std::string_view row_bytes(const TokenMatrix& m, int64_t r) {
  const auto row = m.row(r);
  return {reinterpret_cast<const char*>(row.data()), row.size_bytes()};
}

}  // namespace

Dataset generate_dataset(const TaskSettings& settings) {
  validate(settings);
  const std::unique_ptr<SequenceGenerator> generator = make_generator(settings);
  Rng rng(static_cast<uint64_t>(settings.seed));
  const int64_t cols = sequence_length(settings);
  Dataset dataset;
  dataset.train = generate_split(*generator, rng, Split::Train, settings.num_train_examples, cols);
  dataset.test = generate_split(*generator, rng, Split::Test, settings.num_test_examples, cols);
  return dataset;
}

double test_inputs_in_train(const Dataset& dataset) {
  const TokenMatrix& train = dataset.train.inputs;
  const TokenMatrix& test = dataset.test.inputs;
  if (test.rows == 0 || train.cols != test.cols) return 0.0;
  std::unordered_set<std::string_view> train_rows;
  train_rows.reserve(static_cast<size_t>(train.rows));
  for (int64_t r = 0; r < train.rows; ++r) train_rows.insert(row_bytes(train, r));
  std::unordered_set<std::string_view> test_rows, leaked;
  for (int64_t r = 0; r < test.rows; ++r) {
    const std::string_view row = row_bytes(test, r);
    test_rows.insert(row);
    if (train_rows.contains(row)) leaked.insert(row);
  }
  return static_cast<double>(leaked.size()) / static_cast<double>(test_rows.size());
}

std::optional<std::string> leakage_warning(const Dataset& dataset) {
  const double fraction = test_inputs_in_train(dataset);
  if (fraction <= 0.001) return std::nullopt;
  return fmt::format("possible data leakage: {:.2f}% of the distinct test inputs also occur in the train set",
                     100.0 * fraction);
}

}  // namespace mad::tasks
