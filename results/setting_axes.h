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

}  // namespace mad::results
