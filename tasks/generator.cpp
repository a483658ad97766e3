#include "tasks/generator.h"

namespace mad::tasks {

std::unique_ptr<SequenceGenerator> make_generator(const TaskSettings& settings) {
  switch (settings.task) {
    case TaskId::InContextRecall:
    case TaskId::NoisyInContextRecall: return make_recall_generator(settings);
    case TaskId::FuzzyInContextRecall: return make_fuzzy_recall_generator(settings);
    case TaskId::SelectiveCopying: return make_selective_copying_generator(settings);
    case TaskId::Compression: return make_compression_generator(settings);
    case TaskId::Memorization: return make_memorization_generator(settings);
    case TaskId::Mqar: return make_mqar_generator(settings);
  }
  return nullptr;
}

}  // namespace mad::tasks
