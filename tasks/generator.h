// Sequence generators: one per task, each producing one (inputs, targets) pair at a time from a
// caller-owned random stream, exactly as the reference's instance functions do (mad-protocol.md
// section 1). Datasets are built from them in dataset.h.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/rng.h"
#include "tasks/settings.h"

namespace mad::tasks {

// The recall tasks label train and test sequences differently (full next-token vs recall positions only).
enum class Split { Train, Test };

class SequenceGenerator {
 public:
  virtual ~SequenceGenerator() = default;
  // Writes one sequence: inputs and targets both have sequence_length(settings) entries; ignored targets
  // are kIgnoreIndex. All randomness comes from `rng`.
  virtual void sample(Rng& rng, Split split, std::span<int32_t> inputs, std::span<int32_t> targets) = 0;
};

// The generator for settings.task. The settings must be valid (validate()).
std::unique_ptr<SequenceGenerator> make_generator(const TaskSettings& settings);

// One factory per task family (tasks/<family>.cpp); make_generator is the only caller.
std::unique_ptr<SequenceGenerator> make_recall_generator(const TaskSettings& settings);
std::unique_ptr<SequenceGenerator> make_fuzzy_recall_generator(const TaskSettings& settings);
std::unique_ptr<SequenceGenerator> make_selective_copying_generator(const TaskSettings& settings);
std::unique_ptr<SequenceGenerator> make_compression_generator(const TaskSettings& settings);
std::unique_ptr<SequenceGenerator> make_memorization_generator(const TaskSettings& settings);
std::unique_ptr<SequenceGenerator> make_mqar_generator(const TaskSettings& settings);

}  // namespace mad::tasks
