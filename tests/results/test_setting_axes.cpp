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
