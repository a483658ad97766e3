// Layout checks for generated sequences: the invariants of mad-protocol.md section 1, written
// independently of the generators (they parse the tokens back), so that the generators and the
// reference's own output (fixtures/reference/) can both be held to them.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "tasks/generator.h"
#include "tasks/settings.h"

namespace mad::tasks::testing {

// "" if (inputs, targets) is a valid sequence of the settings' task for `split`, else the first
// violation found.
std::string check_sequence(const TaskSettings& settings, Split split, std::span<const int32_t> inputs,
                           std::span<const int32_t> targets);

// Memorization's map must be one function across all sequences of a dataset, and injective: `map`
// accumulates key -> value over calls. "" or the violation.
std::string check_memorization_map(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                                   std::map<int32_t, int32_t>& map);

// Fuzzy recall: whether the final probe's key appeared earlier in the sequence (an answerable probe).
bool fuzzy_probe_answerable(const TaskSettings& settings, Split split, std::span<const int32_t> inputs,
                            std::span<const int32_t> targets);

}  // namespace mad::tasks::testing
