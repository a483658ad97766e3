// The protocol grid: configs/tasks/*.yml expand to the 66 settings of mad-protocol.md section 2.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "config/yaml.h"
#include "tasks/dataset_name.h"
#include "tasks/protocol_grid.h"
#include "test_util.h"

namespace mad::tasks {
namespace {

using testing::error_of;

TEST(ProtocolGrid, SettingsPerTask) {
  const std::map<TaskId, size_t> expected = {
      {TaskId::InContextRecall, 11},  {TaskId::FuzzyInContextRecall, 11}, {TaskId::NoisyInContextRecall, 14},
      {TaskId::SelectiveCopying, 13}, {TaskId::Compression, 11},          {TaskId::Memorization, 6}};
  for (const auto& [task, count] : expected) {
    EXPECT_EQ(expand_grid(protocol_grid(task)).size(), count) << task_info(task).name;
  }
  const std::vector<TaskSettings> all = protocol_settings();
  EXPECT_EQ(all.size(), 66u);
  std::set<std::string> names;
  for (const TaskSettings& s : all) {
    names.insert(dataset_dir_name(s));
    EXPECT_EQ(s.num_test_examples, 1280);
    EXPECT_EQ(s.seed, 12345);
  }
  EXPECT_EQ(names.size(), 66u) << "every setting is distinct";
}

TEST(ProtocolGrid, Baselines) {
  const TaskSettings& noisy = protocol_grid(TaskId::NoisyInContextRecall).baseline;
  EXPECT_EQ(noisy.vocab_size, 32);
  EXPECT_EQ(noisy.noise_vocab_size, 16);
  EXPECT_EQ(noisy.frac_noise, 0.2);
  const TaskSettings& fuzzy = protocol_grid(TaskId::FuzzyInContextRecall).baseline;
  EXPECT_EQ(fuzzy.k_motif_size, 3);
  EXPECT_EQ(fuzzy.v_motif_size, 3);
  const TaskSettings& copying = protocol_grid(TaskId::SelectiveCopying).baseline;
  EXPECT_EQ(copying.seq_len, 256);
  EXPECT_EQ(copying.num_tokens_to_copy, 16);
  const TaskSettings& memorization = protocol_grid(TaskId::Memorization).baseline;
  EXPECT_EQ(memorization.vocab_size, 256);
  EXPECT_EQ(memorization.num_train_examples, 256);
  EXPECT_EQ(memorization.seq_len, 32);
}

TEST(ProtocolGrid, ChangesVaryOneFactorAtATime) {
  const std::vector<TaskSettings> settings = expand_grid(protocol_grid(TaskId::SelectiveCopying));
  const TaskSettings& base = settings.front();
  for (size_t i = 1; i < settings.size(); ++i) {
    const TaskSettings& s = settings[i];
    const int differences = (s.vocab_size != base.vocab_size) + (s.seq_len != base.seq_len) +
                            (s.num_train_examples != base.num_train_examples) +
                            (s.num_tokens_to_copy != base.num_tokens_to_copy);
    EXPECT_EQ(differences, 1) << describe(s);
  }
  EXPECT_EQ(settings[1].vocab_size, 32);        // file order: vocab_size first
  EXPECT_EQ(settings.back().num_tokens_to_copy, 96);
}

TEST(ProtocolGrid, BadGridFiles) {
  const auto parse = [](const char* text) {
    return expand_grid(parse_task_grid(TaskId::InContextRecall, config::load_string(text, "g.yml")));
  };
  EXPECT_EQ(parse("baseline: {vocab_size: 16}\n").size(), 1u);
  EXPECT_EQ(error_of([&] { parse("baseline: {}\nchange:\n  seq_len: [256]\n"); }),
            "g.yml:2: unknown key 'change' in a task grid (did you mean 'changes'?); valid keys: baseline, changes");
  EXPECT_EQ(error_of([&] { parse("changes:\n  seq_len: [256, x]\n"); }),
            "g.yml:2: changes.seq_len[1]: expected an integer, got 'x'");
  EXPECT_EQ(error_of([&] { parse("changes:\n  task: [compression]\n"); }).substr(0, 53),
            "g.yml:2: changes: unknown key 'task' in grid changes;");
  EXPECT_EQ(error_of([&] { parse("changes:\n  seq_len: [255]\n"); }),
            "seq_len=255 is invalid for in-context-recall: it must be even and at least 4 (key-value pairs, the "
            "last one the probe)");
}

}  // namespace
}  // namespace mad::tasks
