// Task settings: validation messages, conversion from configuration, reference directory names.
#include <gtest/gtest.h>

#include "config/yaml.h"
#include "tasks/dataset_name.h"
#include "tasks/protocol_grid.h"
#include "tasks/settings.h"
#include "test_util.h"

namespace mad::tasks {
namespace {

using testing::error_of;

TaskSettings recall() { return protocol_grid(TaskId::InContextRecall).baseline; }

TEST(Settings, ProtocolBaselinesAreValid) {
  for (const TaskInfo& task : all_tasks()) EXPECT_NO_THROW(validate(protocol_grid(task.id).baseline)) << task.name;
}

TEST(Settings, InvalidSettingsNameTheSettingAndWhatIsValid) {
  TaskSettings s = recall();
  s.seq_len = 127;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "seq_len=127 is invalid for in-context-recall: it must be even and at least 4 (key-value pairs, the "
            "last one the probe)");

  s = protocol_grid(TaskId::NoisyInContextRecall).baseline;
  s.vocab_size = 17;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "vocab_size=17 with noise_vocab_size=16 leaves 1 tokens for keys and values; need vocab_size >= "
            "noise_vocab_size + 2");
  s = protocol_grid(TaskId::NoisyInContextRecall).baseline;
  s.frac_noise = 1.0;
  EXPECT_EQ(error_of([&] { validate(s); }), "frac_noise=1.0 must be in [0, 1)");
  s.frac_noise = -0.1;
  EXPECT_EQ(error_of([&] { validate(s); }), "frac_noise=-0.1 must be in [0, 1)");
  s.frac_noise = 0.5;
  s.noise_vocab_size = 0;
  EXPECT_EQ(error_of([&] { validate(s); }), "frac_noise=0.5 needs noise tokens: set noise_vocab_size > 0");

  s = protocol_grid(TaskId::SelectiveCopying).baseline;
  s.seq_len = 33;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "seq_len=33 must exceed 2 * num_tokens_to_copy + 1 = 33 (the data, the copy token and the answer)");
  s.seq_len = 34;
  EXPECT_NO_THROW(validate(s));

  s = protocol_grid(TaskId::FuzzyInContextRecall).baseline;
  s.vocab_size = 6;  // keys [0, 2): too few for motifs of 3 distinct keys
  EXPECT_EQ(error_of([&] { validate(s); }),
            "vocab_size=6 gives 2 key tokens and 3 value tokens, too few for motifs of k_motif_size=3 and "
            "v_motif_size=3 distinct tokens; need vocab_size >= 7");
  s.vocab_size = 7;
  EXPECT_NO_THROW(validate(s));
  s.seq_len = 12;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "seq_len=12 is too short for fuzzy-in-context-recall: it must exceed 2 * (k_motif_size + "
            "v_motif_size) = 12");

  s = protocol_grid(TaskId::Memorization).baseline;
  s.seq_len = 31;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "seq_len=31 is invalid for memorization: it must be even ([key, insert] pairs)");
  s = recall();
  s.num_train_examples = 0;
  EXPECT_EQ(error_of([&] { validate(s); }), "num_train_examples=0 must be >= 1");
  s = recall();
  s.num_train_examples = int64_t{1} << 30;
  EXPECT_NE(error_of([&] { validate(s); }).find("exceed the limit"), std::string::npos);
}

TEST(Settings, SettingsATaskIgnoresMustKeepTheirDefaults) {
  TaskSettings s = recall();
  s.k_motif_size = 3;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "setting k_motif_size=3 is not used by in-context-recall (leave it at its default)");
  s = protocol_grid(TaskId::Compression).baseline;
  s.frac_noise = 0.2;
  s.noise_vocab_size = 4;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "setting frac_noise=0.2 is not used by compression (leave it at its default)");
  s = recall();
  s.multi_query = false;
  EXPECT_EQ(error_of([&] { validate(s); }),
            "multi_query=false is not supported: every MAD setting uses multi-query recall");
}

TEST(Settings, FromConfigChecksKeysAndTypes) {
  const TaskSettings s = settings_from_config(
      config::load_string("task: selective-copying\nvocab_size: 32\nnum_tokens_to_copy: 4\nseq_len: 64\n"));
  EXPECT_EQ(s.task, TaskId::SelectiveCopying);
  EXPECT_EQ(s.vocab_size, 32);
  EXPECT_EQ(s.num_tokens_to_copy, 4);
  EXPECT_EQ(s.num_test_examples, 1280);  // default kept
  EXPECT_EQ(error_of([] { settings_from_config(config::load_string("vocab_sise: 3\n", "s.yml")); }),
            "s.yml:1: unknown key 'vocab_sise' in task settings (did you mean 'vocab_size'?); valid keys: task, "
            "vocab_size, seq_len, num_train_examples, num_test_examples, k_motif_size, v_motif_size, multi_query, "
            "frac_noise, noise_vocab_size, num_tokens_to_copy, seed, num_kv_pairs, power_a");
  EXPECT_EQ(error_of([] { settings_from_config(config::load_string("seq_len: 0.5\n", "s.yml")); }),
            "s.yml:1: seq_len: expected an integer, got 0.5");
  EXPECT_EQ(error_of([] { settings_from_config(config::load_string("task: recall\n", "s.yml")); }),
            "unknown task 'recall'; valid tasks: in-context-recall, noisy-in-context-recall, "
            "fuzzy-in-context-recall, selective-copying, compression, memorization, mqar");
  // frac_noise accepts an integer.
  EXPECT_EQ(settings_from_config(config::load_string("frac_noise: 0\n")).frac_noise, 0.0);
}

TEST(Settings, ConfigRoundTrip) {
  for (const TaskSettings& s : protocol_settings()) {
    EXPECT_EQ(settings_from_config(to_config(s)), s) << describe(s);
  }
}

TEST(DatasetName, MatchesTheReferenceExample) {
  // mad-protocol.md section 8.
  EXPECT_EQ(dataset_dir_name(recall()),
            "t-CR_vs-16_sl-128_ntr-12800_nte-1280_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-12345");
  EXPECT_EQ(dataset_dir_name(protocol_grid(TaskId::NoisyInContextRecall).baseline),
            "t-NR_vs-32_sl-128_ntr-12800_nte-1280_km-1_vm-1_mq-1_fn-0#2_nvs-16_ntc-0_s-12345");
}

TEST(DatasetName, RoundTripsForEveryProtocolSetting) {
  for (const TaskSettings& s : protocol_settings()) {
    const std::optional<TaskSettings> parsed = parse_dataset_dir_name(dataset_dir_name(s));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, s) << dataset_dir_name(s);
  }
}

TEST(DatasetName, OtherNamesAndBadElements) {
  EXPECT_FALSE(parse_dataset_dir_name("my-data").has_value());
  EXPECT_EQ(error_of([] { parse_dataset_dir_name("t-XX_vs-16"); }),
            "dataset directory name 't-XX_vs-16': unknown task shorthand 'XX' (valid: CR, NR, FR, SC, C, M, MQAR)");
  EXPECT_EQ(error_of([] { parse_dataset_dir_name("t-CR_vs-16_sl-128"); }),
            "dataset directory name 't-CR_vs-16_sl-128' lacks ntr-... (num_train_examples)");
  EXPECT_EQ(error_of([] {
              parse_dataset_dir_name("t-CR_vs-x_sl-128_ntr-1_nte-1_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-1");
            }),
            "dataset directory name 't-CR_vs-x_sl-128_ntr-1_nte-1_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-1': 'x' for "
            "vocab_size is not an integer");
}

}  // namespace
}  // namespace mad::tasks
