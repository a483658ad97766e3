// The reference's dataset directory names (mad-protocol.md section 8), e.g.
// t-CR_vs-16_sl-128_ntr-12800_nte-1280_km-1_vm-1_mq-1_fn-0#0_nvs-0_ntc-0_s-12345
// (task shorthand, then every setting by its short key; booleans as 1/0, '.' written as '#'), so that a
// folder of published MAD benchmark data can be used directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tasks/settings.h"

namespace mad::tasks {

std::string dataset_dir_name(const TaskSettings& settings);

// The settings encoded in a directory name; nullopt if the name is not of that form (does not start
// with "t-"). A name of that form with a bad element is an error naming the element.
std::optional<TaskSettings> parse_dataset_dir_name(std::string_view name);

}  // namespace mad::tasks
