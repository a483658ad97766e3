// Property tests: every generated sequence of every task satisfies the layout of mad-protocol.md
// section 1 (layout_check.h), over all 66 protocol settings and edge settings; and the checks themselves
// reject broken sequences.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "layout_check.h"
#include "tasks/dataset.h"
#include "tasks/protocol_grid.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {
namespace {

using testing::check_memorization_map;
using testing::check_sequence;

// Generates `settings` and checks every train and test row; returns the number of rows checked.
int64_t check_dataset(const TaskSettings& settings) {
  const Dataset data = generate_dataset(settings);
  std::map<int32_t, int32_t> memorized;
  int64_t rows = 0;
  for (const auto& [split, part] : {std::pair{Split::Train, &data.train}, std::pair{Split::Test, &data.test}}) {
    EXPECT_EQ(part->inputs.cols, sequence_length(settings));
    for (int64_t r = 0; r < part->inputs.rows; ++r, ++rows) {
      const std::string error = check_sequence(settings, split, part->inputs.row(r), part->targets.row(r));
      if (!error.empty()) {
        ADD_FAILURE() << describe(settings) << (split == Split::Train ? " train" : " test") << " row " << r << ": "
                      << error;
        return rows;
      }
      if (settings.task == TaskId::Memorization) {
        const std::string map_error = check_memorization_map(part->inputs.row(r), part->targets.row(r), memorized);
        if (!map_error.empty()) {
          ADD_FAILURE() << describe(settings) << " row " << r << ": " << map_error;
          return rows;
        }
      }
    }
  }
  return rows;
}

TEST(Layouts, EveryProtocolSetting) {
  int64_t rows = 0;
  for (TaskSettings s : protocol_settings()) {
    s.num_train_examples = 300;
    s.num_test_examples = 300;
    rows += check_dataset(s);
  }
  EXPECT_EQ(rows, 66 * 600);
}

TEST(Layouts, ManySequencesOfEachBaseline) {
  for (const TaskInfo& task : all_tasks()) {
    TaskSettings s = protocol_grid(task.id).baseline;
    s.num_train_examples = 5000;
    s.num_test_examples = 5000;
    check_dataset(s);
  }
}

TEST(Layouts, EdgeSettings) {
  std::vector<TaskSettings> edges;
  const auto with = [](TaskId task, auto&& edit) {
    TaskSettings s = protocol_grid(task).baseline;
    s.num_train_examples = 2000;
    s.num_test_examples = 2000;
    edit(s);
    return s;
  };
  edges.push_back(with(TaskId::InContextRecall, [](TaskSettings& s) { s.vocab_size = 2, s.seq_len = 4; }));
  edges.push_back(with(TaskId::InContextRecall, [](TaskSettings& s) { s.vocab_size = 3, s.seq_len = 6; }));
  edges.push_back(with(TaskId::NoisyInContextRecall, [](TaskSettings& s) { s.frac_noise = 0.99, s.seq_len = 8; }));
  edges.push_back(with(TaskId::NoisyInContextRecall, [](TaskSettings& s) { s.vocab_size = 19, s.noise_vocab_size = 1; }));
  edges.push_back(with(TaskId::FuzzyInContextRecall, [](TaskSettings& s) { s.vocab_size = 7, s.seq_len = 13; }));
  edges.push_back(with(TaskId::FuzzyInContextRecall, [](TaskSettings& s) { s.k_motif_size = 1, s.v_motif_size = 1; }));
  edges.push_back(with(TaskId::FuzzyInContextRecall, [](TaskSettings& s) { s.k_motif_size = 5, s.vocab_size = 64; }));
  edges.push_back(with(TaskId::SelectiveCopying, [](TaskSettings& s) { s.vocab_size = 3, s.num_tokens_to_copy = 1, s.seq_len = 4; }));
  edges.push_back(with(TaskId::SelectiveCopying, [](TaskSettings& s) { s.num_tokens_to_copy = 100, s.seq_len = 202; }));
  edges.push_back(with(TaskId::Compression, [](TaskSettings& s) { s.vocab_size = 2, s.seq_len = 2; }));
  edges.push_back(with(TaskId::Memorization, [](TaskSettings& s) { s.vocab_size = 3, s.seq_len = 2; }));
  edges.push_back(with(TaskId::Memorization, [](TaskSettings& s) { s.vocab_size = 4; }));
  for (const TaskSettings& s : edges) check_dataset(s);
}

// Generates one valid sequence of `settings`.
std::pair<std::vector<int32_t>, std::vector<int32_t>> one_sequence(const TaskSettings& settings, Split split,
                                                                   uint64_t seed = 1) {
  const auto n = static_cast<size_t>(sequence_length(settings));
  std::vector<int32_t> inputs(n), targets(n);
  Rng rng(seed);
  make_generator(settings)->sample(rng, split, inputs, targets);
  return {inputs, targets};
}

// The checks are only worth something if they reject wrong sequences.
TEST(Layouts, ChecksRejectBrokenSequences) {
  const TaskSettings recall = protocol_grid(TaskId::InContextRecall).baseline;
  auto [x, t] = one_sequence(recall, Split::Test);
  ASSERT_EQ(check_sequence(recall, Split::Test, x, t), "");
  auto broken = t;
  broken.back() = kIgnoreIndex;  // the final probe must be labelled
  EXPECT_NE(check_sequence(recall, Split::Test, x, broken), "");
  broken = t;
  broken[0] = x[1];  // the first pair's value is never labelled (its key is new)
  EXPECT_NE(check_sequence(recall, Split::Test, x, broken), "");
  auto broken_x = x;
  broken_x[1] = broken_x[1] == 8 ? 9 : 8;  // the first key's value changes: later repeats disagree
  EXPECT_NE(check_sequence(recall, Split::Test, broken_x, t), "");
  EXPECT_NE(check_sequence(recall, Split::Train, x, t), "");  // test labels are not next-token targets

  const TaskSettings fuzzy = protocol_grid(TaskId::FuzzyInContextRecall).baseline;
  auto [fx, ft] = one_sequence(fuzzy, Split::Test);
  ASSERT_EQ(check_sequence(fuzzy, Split::Test, fx, ft), "");
  // Label the first value whose key is new (an unlabelled value position).
  const Vocabulary fuzzy_vocab = vocabulary(fuzzy);
  size_t p = 0;
  while (!(ft[p] == kIgnoreIndex && fuzzy_vocab.values.contains(fx[p + 1]))) ++p;
  broken = ft;
  broken[p] = fx[p + 1];
  EXPECT_NE(check_sequence(fuzzy, Split::Test, fx, broken), "");
  broken_x = fx;
  broken_x[0] = 2;  // a key token where the padding starts
  EXPECT_NE(check_sequence(fuzzy, Split::Test, broken_x, ft), "");

  const TaskSettings copying = protocol_grid(TaskId::SelectiveCopying).baseline;
  auto [cx, ct] = one_sequence(copying, Split::Test);
  ASSERT_EQ(check_sequence(copying, Split::Test, cx, ct), "");
  broken = ct;
  std::reverse(broken.end() - 16, broken.end());
  if (broken != ct) {
    EXPECT_NE(check_sequence(copying, Split::Test, cx, broken), "");
  }
  broken_x = cx;
  std::swap(broken_x[copying.seq_len - 18], broken_x[copying.seq_len - 17]);  // COPY one position early
  EXPECT_NE(check_sequence(copying, Split::Test, broken_x, ct), "");

  const TaskSettings compression = protocol_grid(TaskId::Compression).baseline;
  auto [zx, zt] = one_sequence(compression, Split::Train);
  ASSERT_EQ(check_sequence(compression, Split::Train, zx, zt), "");
  zt[0] = kIgnoreIndex;
  EXPECT_NE(check_sequence(compression, Split::Train, zx, zt), "");

  const TaskSettings memorization = protocol_grid(TaskId::Memorization).baseline;
  auto [mx, mt] = one_sequence(memorization, Split::Train);
  std::map<int32_t, int32_t> map;
  ASSERT_EQ(check_memorization_map(mx, mt, map), "");
  mt[1] = mt[1] == 200 ? 201 : 200;  // the first key now maps to another value
  EXPECT_NE(check_memorization_map(mx, mt, map), "");
}

}  // namespace
}  // namespace mad::tasks
