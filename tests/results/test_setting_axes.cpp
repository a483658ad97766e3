// The difficulty axes of a set of task settings and the compact names built from them.
#include <gtest/gtest.h>

#include "results/setting_axes.h"
#include "results_test_util.h"

namespace mad::results {
namespace {

using testing::task_settings;

TEST(SettingAxes, OnlyTheKeysThatDifferVary) {
  config::Value longer = task_settings("in-context-recall", 16);
  longer.set("seq_len", config::Value(256));
  const std::vector<config::Value> settings{task_settings("in-context-recall", 16), task_settings("in-context-recall", 32),
                                            longer};
  const std::vector<std::string> keys = varying_keys(settings);
  EXPECT_EQ(keys, (std::vector<std::string>{"vocab_size", "seq_len"}));
  EXPECT_EQ(describe_setting(settings[1], keys), "vocab_size=32 seq_len=128");
  EXPECT_EQ(describe_setting(longer, keys), "vocab_size=16 seq_len=256");
}

TEST(SettingAxes, OneSettingHasNoAxes) {
  const std::vector<config::Value> settings{task_settings("compression", 16)};
  EXPECT_TRUE(varying_keys(settings).empty());
  EXPECT_EQ(describe_setting(settings[0], {}), "-");
}

TEST(SettingAxes, AKeyMissingFromSomeSettingsVaries) {
  config::Value noisy = task_settings("in-context-recall", 16);
  noisy.set("frac_noise", config::Value(0.2));
  const std::vector<config::Value> settings{task_settings("in-context-recall", 16), noisy};
  const std::vector<std::string> keys = varying_keys(settings);
  EXPECT_EQ(keys, std::vector<std::string>{"frac_noise"});
  EXPECT_EQ(describe_setting(settings[0], keys), "frac_noise=null");
}

}  // namespace
}  // namespace mad::results

namespace mad::results {
namespace {

// A one-factor-at-a-time grid: the baseline (vocab 16, length 128), two vocabularies, two lengths.
std::vector<config::Value> grid_settings() {
  std::vector<config::Value> settings;
  for (int64_t v : {64, 16, 32}) settings.push_back(testing::task_settings("in-context-recall", v));
  for (int64_t length : {512, 256}) {
    settings.push_back(testing::task_settings("in-context-recall", 16));
    settings.back().set("seq_len", config::Value(length));
  }
  return settings;
}

TEST(SettingGrid, NamesASettingByTheAxisThatDiffersFromTheBaseline) {
  const std::vector<config::Value> settings = grid_settings();
  const SettingGrid grid(settings);
  EXPECT_EQ(grid.axes(), (std::vector<std::string>{"vocab_size", "seq_len"}));
  EXPECT_EQ(grid.name(settings[1]), "baseline");
  EXPECT_EQ(grid.name(settings[0]), "vocab_size=64");
  EXPECT_EQ(grid.name(settings[3]), "seq_len=512");
  config::Value both = settings[0];
  both.set("seq_len", config::Value(256));
  EXPECT_EQ(grid.name(both), "vocab_size=64 seq_len=256");
  EXPECT_EQ(grid.changed(both), (std::vector<std::string>{"vocab_size", "seq_len"}));
}

TEST(SettingGrid, TheLineOfAnAxisIsTheBaselineAndItsChanges) {
  const std::vector<config::Value> settings = grid_settings();
  const SettingGrid grid(settings);
  std::vector<bool> on_vocab, on_length;
  for (const config::Value& s : settings) {
    on_vocab.push_back(grid.on_axis(s, "vocab_size"));
    on_length.push_back(grid.on_axis(s, "seq_len"));
  }
  EXPECT_EQ(on_vocab, (std::vector<bool>{true, true, true, false, false}));
  EXPECT_EQ(on_length, (std::vector<bool>{false, true, false, true, true}));
}

TEST(SettingGrid, ReadingOrderIsBaselineThenAxisByAxisByValue) {
  std::vector<config::Value> settings = grid_settings();
  const SettingGrid grid(settings);
  std::stable_sort(settings.begin(), settings.end(), [&](const auto& x, const auto& y) { return grid.before(x, y); });
  std::vector<std::string> names;
  for (const config::Value& s : settings) names.push_back(grid.name(s));
  EXPECT_EQ(names, (std::vector<std::string>{"baseline", "vocab_size=32", "vocab_size=64", "seq_len=256", "seq_len=512"}));
}

TEST(SettingGrid, ASingleSettingHasNoAxisAndIsNamedSo) {
  const std::vector<config::Value> settings{testing::task_settings("compression", 16)};
  const SettingGrid grid(settings);
  EXPECT_TRUE(grid.axes().empty());
  EXPECT_EQ(grid.name(settings[0]), "one setting");
}

TEST(SettingGrid, OneAxisNamesEverySettingByItsValue) {
  const std::vector<config::Value> settings{testing::task_settings("compression", 32), testing::task_settings("compression", 16)};
  const SettingGrid grid(settings);
  EXPECT_EQ(grid.name(settings[0]), "vocab_size=32");
  EXPECT_EQ(grid.name(settings[1]), "vocab_size=16");
  EXPECT_TRUE(grid.before(settings[1], settings[0]));
  EXPECT_TRUE(grid.on_axis(settings[0], "vocab_size"));
}

}  // namespace
}  // namespace mad::results
