// The difficulty axes of a set of task settings: the settings keys whose values differ between them
// (in a one-factor-at-a-time grid: vocab_size, seq_len, num_train_examples, ...). They name a setting
// compactly in tables ("vocab_size=32 seq_len=128") and give the x axes of accuracy-against-difficulty
// plots.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "config/value.h"

namespace mad::results {

// The keys (other than "task") whose values are not the same in every one of `settings`, in the order
// of their first appearance. A key missing from some settings counts as varying.
std::vector<std::string> varying_keys(std::span<const config::Value> settings);

// "key=value key=value" for the `keys` of one settings map (values in canonical JSON; a missing key
// shows as null); "-" when `keys` is empty.
std::string describe_setting(const config::Value& settings, std::span<const std::string> keys);

// The one-factor-at-a-time structure of one task's settings (mad-protocol.md section 2: a baseline and
// changes of one key at a time). results/ does not know the protocol's baselines, so the baseline is
// inferred: for each axis, its most common value (every setting that changes another axis shares the
// baseline's value; a tie goes to the value seen first). With one axis there is no baseline to infer and
// every setting is named by its value on that axis.
class SettingGrid {
 public:
  explicit SettingGrid(std::span<const config::Value> settings);

  // The varying keys (varying_keys), e.g. {"vocab_size", "seq_len"}.
  const std::vector<std::string>& axes() const { return axes_; }
  // The axes on which `setting` differs from the baseline.
  std::vector<std::string> changed(const config::Value& setting) const;
  // A compact name: "vocab_size=32" (the axis that differs from the baseline), "baseline", several
  // "key=value" when several keys differ, "one setting" when nothing varies.
  std::string name(const config::Value& setting) const;
  // True when `setting` differs from the baseline on no axis but `axis` (the baseline included): the
  // settings of the line "accuracy against `axis`".
  bool on_axis(const config::Value& setting, const std::string& axis) const;
  // Reading order: the baseline first, then axis by axis in axes() order, by value within an axis.
  bool before(const config::Value& x, const config::Value& y) const;

 private:
  std::vector<std::string> axes_;
  std::vector<config::Value> baseline_;  // one value per axis (null when the key is mostly missing)
};

}  // namespace mad::results
