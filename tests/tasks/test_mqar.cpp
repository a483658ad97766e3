// MQAR (zoology's multiquery_ar, tasks/mqar.cpp): outside the MAD protocol, its layout, its statistics
// against the exact distribution, determinism, validation, and that adding it changed no MAD setting's
// configuration (dataset hashes and run keys are made from it).
//
// Statistical expectations are exact (from the task's definition); a measurement agrees when it is within
// 4 standard errors, as in test_statistics.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "config/canonical.h"
#include "layout_check.h"
#include "tasks/dataset.h"
#include "tasks/dataset_name.h"
#include "tasks/protocol_grid.h"
#include "tasks/vocabulary.h"
#include "test_util.h"

namespace mad::tasks {
namespace {

using testing::check_sequence;
using testing::error_of;

TaskSettings mqar(int64_t vocab_size, int64_t seq_len, int64_t pairs, double power_a = 0.01, int64_t rows = 4000) {
  TaskSettings s;
  s.task = TaskId::Mqar;
  s.vocab_size = vocab_size;
  s.seq_len = seq_len;
  s.num_kv_pairs = pairs;
  s.power_a = power_a;
  s.num_train_examples = rows;
  s.num_test_examples = 10;
  return s;
}

// The exact gap distribution: P(g) = (g+1)^(a-1) / sum_i i^(a-1), g in [0, space).
std::vector<double> gap_probabilities(int64_t space, double power_a) {
  std::vector<double> p(static_cast<size_t>(space));
  double total = 0;
  for (size_t g = 0; g < p.size(); ++g) total += p[g] = std::pow(static_cast<double>(g + 1), power_a - 1);
  for (double& v : p) v /= total;
  return p;
}

// The gap of each pair's query, pair by pair (-1 if the pair is not queried), read back from the tokens.
std::vector<int64_t> query_gaps(const TaskSettings& s, std::span<const int32_t> inputs,
                                std::span<const int32_t> targets) {
  const auto n = static_cast<size_t>(s.num_kv_pairs);
  std::vector<int64_t> gaps(n, -1);
  for (size_t p = 2 * n; p < inputs.size(); ++p) {
    if (targets[p] == kIgnoreIndex) continue;
    for (size_t j = 0; j < n; ++j) {
      if (inputs[2 * j] == inputs[p]) gaps[j] = static_cast<int64_t>(p - 2 * n) / 2;
    }
  }
  return gaps;
}

// |frequency - p| within 4 binomial standard errors of `trials` draws.
void expect_frequency(int64_t hits, int64_t trials, double p, const std::string& what) {
  const double frequency = static_cast<double>(hits) / static_cast<double>(trials);
  const double se = std::sqrt(p * (1 - p) / static_cast<double>(trials));
  std::printf("%-50s ours %8.5f   expected %8.5f +- %.5f\n", what.c_str(), frequency, p, se);
  EXPECT_NEAR(frequency, p, 4 * se + 1e-12) << what;
}

TEST(Mqar, IsAnExtraTaskOutsideTheProtocol) {
  EXPECT_EQ(all_tasks().size(), 6u);
  for (const TaskInfo& task : all_tasks()) EXPECT_NE(task.id, TaskId::Mqar);
  ASSERT_EQ(extra_tasks().size(), 1u);
  EXPECT_EQ(extra_tasks()[0].name, "mqar");
  EXPECT_FALSE(is_mad_task(TaskId::Mqar));
  EXPECT_TRUE(is_mad_task(TaskId::Memorization));
  EXPECT_EQ(task_from_name("mqar"), TaskId::Mqar);
  EXPECT_EQ(task_from_shorthand("MQAR"), TaskId::Mqar);
  EXPECT_EQ(task_info(TaskId::Mqar).backbone, Backbone::LanguageModel);
  const std::vector<TaskSettings> protocol = protocol_settings();
  EXPECT_EQ(protocol.size(), 66u);
  for (const TaskSettings& s : protocol) EXPECT_NE(s.task, TaskId::Mqar);
  // Its own grid (configs/tasks/mqar.yml): valid, 8 settings.
  const std::vector<TaskSettings> grid = expand_grid(protocol_grid(TaskId::Mqar));
  EXPECT_EQ(grid.size(), 8u);
  EXPECT_EQ(grid[0].num_kv_pairs, 8);
  EXPECT_EQ(grid[0].vocab_size, 512);
  EXPECT_EQ(sequence_length(grid[0]), grid[0].seq_len);
}

// Dataset hashes and run keys are made from to_config: the six tasks' maps must not gain mqar's settings.
TEST(Mqar, MadSettingsMapsAreUnchanged) {
  const std::set<std::string> mad_keys = {"task",          "vocab_size",         "seq_len",     "num_train_examples",
                                          "num_test_examples", "k_motif_size",   "v_motif_size", "multi_query",
                                          "frac_noise",    "noise_vocab_size",   "num_tokens_to_copy", "seed"};
  for (const TaskSettings& s : protocol_settings()) {
    std::set<std::string> keys;
    const config::Value map = to_config(s);
    for (const auto& [key, value] : map.as_map()) keys.insert(key);
    EXPECT_EQ(keys, mad_keys) << describe(s);
    EXPECT_EQ(describe(s).find("num_kv_pairs"), std::string::npos);
    EXPECT_EQ(dataset_dir_name(s).find("nkv"), std::string::npos);
  }
  // The canonical text (the hashed form) of the in-context-recall baseline, as before mqar existed.
  EXPECT_EQ(config::canonical(to_config(protocol_grid(TaskId::InContextRecall).baseline)),
            "{\"frac_noise\": 0.0, \"k_motif_size\": 1, \"multi_query\": true, \"noise_vocab_size\": 0, "
            "\"num_test_examples\": 1280, \"num_tokens_to_copy\": 0, \"num_train_examples\": 12800, \"seed\": 12345, "
            "\"seq_len\": 128, \"task\": \"in-context-recall\", \"v_motif_size\": 1, \"vocab_size\": 16}");
  // mqar's map has them; its directory name too, and both round-trip.
  const TaskSettings s = protocol_grid(TaskId::Mqar).baseline;
  const config::Value map = to_config(s);
  EXPECT_EQ(map.at("num_kv_pairs").as<int64_t>(), 8);
  EXPECT_EQ(map.at("power_a").as<double>(), 0.01);
  EXPECT_EQ(settings_from_config(map), s);
  EXPECT_EQ(dataset_dir_name(s), "t-MQAR_vs-512_sl-128_ntr-12800_nte-1280_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-12345_"
                                 "nkv-8_pa-0#01");
  EXPECT_EQ(parse_dataset_dir_name(dataset_dir_name(s)), s);
  EXPECT_EQ(error_of([] {
              parse_dataset_dir_name("t-CR_vs-16_sl-128_ntr-1_nte-1_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-1_nkv-8");
            }),
            "dataset directory name 't-CR_vs-16_sl-128_ntr-1_nte-1_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-1_nkv-8': "
            "nkv-... (num_kv_pairs) is not a setting of in-context-recall");
  // The MAD tasks reject mqar's settings rather than ignore them.
  TaskSettings recall = protocol_grid(TaskId::InContextRecall).baseline;
  recall.num_kv_pairs = 8;
  EXPECT_EQ(error_of([&] { validate(recall); }),
            "setting num_kv_pairs=8 is not used by in-context-recall (leave it at its default)");
  recall = protocol_grid(TaskId::InContextRecall).baseline;
  recall.power_a = 0.5;
  EXPECT_EQ(error_of([&] { validate(recall); }),
            "setting power_a=0.5 is not used by in-context-recall (leave it at its default)");
}

TEST(Mqar, EveryRowHasTheLayout) {
  std::vector<TaskSettings> settings = expand_grid(protocol_grid(TaskId::Mqar));
  // Edges: the smallest vocabulary, pairs filling every key, every query slot filled, odd-free minimum.
  settings.push_back(mqar(4, 4, 1));
  settings.push_back(mqar(10, 16, 4));   // keys [1, 5): all 4 used
  settings.push_back(mqar(64, 32, 8));   // space 8 = num_kv_pairs
  settings.push_back(mqar(64, 34, 8, 2.0));
  for (TaskSettings s : settings) {
    s.num_train_examples = 300;
    s.num_test_examples = 300;
    const Dataset data = generate_dataset(s);
    for (const auto& [split, part] : {std::pair{Split::Train, &data.train}, std::pair{Split::Test, &data.test}}) {
      ASSERT_EQ(part->inputs.cols, s.seq_len);
      for (int64_t r = 0; r < part->inputs.rows; ++r) {
        const auto targets = part->targets.row(r);
        const std::string error = check_sequence(s, split, part->inputs.row(r), targets);
        ASSERT_EQ(error, "") << describe(s) << " row " << r;
        // Exactly num_kv_pairs scored positions.
        ASSERT_EQ(std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t != kIgnoreIndex; }),
                  s.num_kv_pairs);
      }
    }
  }
}

TEST(Mqar, TheLayoutCheckRejectsBrokenRows) {
  const TaskSettings s = mqar(64, 32, 4, 0.01, 1);
  const Dataset data = generate_dataset(s);
  const auto good_inputs = data.train.inputs.row(0);
  const auto good_targets = data.train.targets.row(0);
  ASSERT_EQ(check_sequence(s, Split::Train, good_inputs, good_targets), "");
  std::vector<int32_t> x(good_inputs.begin(), good_inputs.end()), t(good_targets.begin(), good_targets.end());
  const size_t query = static_cast<size_t>(std::find_if(t.begin(), t.end(), [](int32_t v) { return v != kIgnoreIndex; }) -
                                           t.begin());
  auto broken = [&](auto change) {
    std::vector<int32_t> bx = x, bt = t;
    change(bx, bt);
    return check_sequence(s, Split::Train, bx, bt);
  };
  EXPECT_NE(broken([](auto& bx, auto&) { bx[2] = bx[0]; }), "");                        // repeated key
  EXPECT_NE(broken([](auto& bx, auto&) { bx[3] = bx[1]; }), "");                        // repeated value
  EXPECT_NE(broken([](auto& bx, auto&) { bx[0] = 0; }), "");                            // 0 is not a key
  EXPECT_NE(broken([&](auto&, auto& bt) { bt[query] = bt[query] == 32 ? 33 : 32; }), "");  // wrong value
  EXPECT_NE(broken([&](auto&, auto& bt) { bt[query] = kIgnoreIndex; }), "");            // a key not queried
  EXPECT_NE(broken([](auto&, auto& bt) { bt[1] = 40; }), "");                           // a pair labelled
}

// The first pair's query gap follows P(g) exactly; for two pairs, P(gap 0 is taken) is
// p0 + sum_{g != 0} p_g p0 / (1 - p_g) (drawn without replacement, numpy's choice(replace=False, p=...)).
TEST(Mqar, QueryGapsFollowThePowerLaw) {
  {
    const TaskSettings s = mqar(64, 64, 2, 0.01, 40000);  // space 30
    const Dataset data = generate_dataset(s);
    const std::vector<double> p = gap_probabilities(30, 0.01);
    std::vector<int64_t> first(30, 0), taken(30, 0);
    for (int64_t r = 0; r < data.train.inputs.rows; ++r) {
      const std::vector<int64_t> gaps = query_gaps(s, data.train.inputs.row(r), data.train.targets.row(r));
      ASSERT_TRUE(gaps[0] >= 0 && gaps[1] >= 0 && gaps[0] != gaps[1]);
      ++first[gaps[0]];
      ++taken[gaps[0]], ++taken[gaps[1]];
    }
    const int64_t rows = data.train.inputs.rows;
    expect_frequency(first[0], rows, p[0], "power_a 0.01, space 30: first gap 0");
    expect_frequency(first[1], rows, p[1], "power_a 0.01, space 30: first gap 1");
    expect_frequency(first[29], rows, p[29], "power_a 0.01, space 30: first gap 29");
    double inclusion = p[0];
    for (size_t g = 1; g < p.size(); ++g) inclusion += p[g] * p[0] / (1 - p[g]);
    expect_frequency(taken[0], rows, inclusion, "power_a 0.01, 2 pairs: gap 0 taken");
    // Small gaps far more frequent than large ones: gap 0 about 25 times gap 29 at power_a 0.01.
    EXPECT_GT(first[0], 10 * first[29]);
  }
  {
    // power_a 1: uniform gaps.
    const TaskSettings s = mqar(64, 64, 2, 1.0, 40000);
    const Dataset data = generate_dataset(s);
    int64_t zero = 0;
    for (int64_t r = 0; r < data.train.inputs.rows; ++r) {
      zero += query_gaps(s, data.train.inputs.row(r), data.train.targets.row(r))[0] == 0;
    }
    expect_frequency(zero, data.train.inputs.rows, 1.0 / 30, "power_a 1, space 30: first gap 0");
  }
}

// Keys, values and filler tokens uniform over their ranges (zoology: np.random.choice without replacement
// over [1, V/2) and [V/2, V); random_non_queries fills with torch.randint(V)).
TEST(Mqar, TokensAreUniformOverTheirRanges) {
  const TaskSettings s = mqar(64, 64, 4, 0.01, 5000);
  const Dataset data = generate_dataset(s);
  int64_t key_one = 0, value_32 = 0, fill_zero = 0, fills = 0, pairs = 0;
  for (int64_t r = 0; r < data.train.inputs.rows; ++r) {
    const auto x = data.train.inputs.row(r);
    const auto t = data.train.targets.row(r);
    for (size_t j = 0; j < 4; ++j, ++pairs) key_one += x[2 * j] == 1, value_32 += x[2 * j + 1] == 32;
    for (size_t p = 8; p < x.size(); ++p) {
      if (t[p] != kIgnoreIndex) continue;
      ++fills;
      fill_zero += x[p] == 0;
    }
  }
  expect_frequency(key_one, pairs, 1.0 / 31, "key 1 among the pair keys (31 keys)");
  expect_frequency(value_32, pairs, 1.0 / 32, "value 32 among the pair values (32 values)");
  expect_frequency(fill_zero, fills, 1.0 / 64, "token 0 among the filler tokens (64 tokens)");
}

TEST(Mqar, SameSeedSameDataOtherSeedOtherData) {
  TaskSettings s = mqar(64, 64, 4, 0.01, 50);
  const Dataset a = generate_dataset(s), b = generate_dataset(s);
  EXPECT_EQ(a.train.inputs.data, b.train.inputs.data);
  EXPECT_EQ(a.train.targets.data, b.train.targets.data);
  EXPECT_EQ(a.test.inputs.data, b.test.inputs.data);
  s.seed += 1;
  EXPECT_NE(generate_dataset(s).train.inputs.data, a.train.inputs.data);
  // Train and test differ (one stream, train first).
  EXPECT_LT(test_inputs_in_train(a), 0.001);
}

TEST(Mqar, InvalidSettingsNameTheSettingAndTheFix) {
  EXPECT_EQ(error_of([] { validate(mqar(3, 16, 1)); }),
            "vocab_size=3 is too small for mqar: keys are [1, vocab_size/2) and values [vocab_size/2, vocab_size), "
            "so it needs vocab_size >= 4");
  EXPECT_EQ(error_of([] { validate(mqar(64, 16, 0)); }), "num_kv_pairs=0 must be >= 1");
  EXPECT_EQ(error_of([] { validate(mqar(16, 64, 8)); }),
            "num_kv_pairs=8 exceeds the 7 distinct keys of vocab_size=16 (keys are [1, vocab_size/2), values "
            "[vocab_size/2, vocab_size)); raise vocab_size to at least 18");
  EXPECT_NO_THROW(validate(mqar(18, 64, 8)));
  EXPECT_EQ(error_of([] { validate(mqar(64, 33, 4)); }),
            "seq_len=33 must be even for mqar (query slots are token pairs)");
  EXPECT_EQ(error_of([] { validate(mqar(64, 16, 8)); }),
            "num_kv_pairs=8 does not fit seq_len=16: the pairs alone take 2 * num_kv_pairs = 16 tokens; raise "
            "seq_len to at least 32 or lower num_kv_pairs");
  EXPECT_EQ(error_of([] { validate(mqar(64, 30, 8)); }),
            "num_kv_pairs=8 with seq_len=30 leaves 7 query slots ((seq_len - 2 * num_kv_pairs) / 2) for 8 queries; "
            "raise seq_len to at least 4 * num_kv_pairs = 32 or lower num_kv_pairs");
  EXPECT_NO_THROW(validate(mqar(64, 32, 8)));
  EXPECT_EQ(error_of([] { validate(mqar(64, 32, 4, 0.0)); }),
            "power_a=0.0 must be > 0 (zoology's default is 0.01; 1 gives uniform query gaps)");
  EXPECT_EQ(error_of([] { validate(mqar(64, 32, 4, -1.0)); }),
            "power_a=-1.0 must be > 0 (zoology's default is 0.01; 1 gives uniform query gaps)");
  EXPECT_EQ(error_of([] { validate(mqar(64, 32, 4, std::nan(""))); }), "power_a must be a finite number");
  TaskSettings noisy = mqar(64, 32, 4);
  noisy.num_tokens_to_copy = 2;
  EXPECT_EQ(error_of([&] { validate(noisy); }),
            "setting num_tokens_to_copy=2 is not used by mqar (leave it at its default)");
}

}  // namespace
}  // namespace mad::tasks
