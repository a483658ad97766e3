#include "tasks/vocabulary.h"

#include <fmt/format.h>

namespace mad::tasks {

Vocabulary vocabulary(const TaskSettings& s) {
  const auto V = static_cast<int32_t>(s.vocab_size);
  Vocabulary vocab;
  switch (s.task) {
    case TaskId::InContextRecall:
    case TaskId::NoisyInContextRecall: {
      const auto non_special = static_cast<int32_t>(s.vocab_size - s.noise_vocab_size);
      vocab.keys = {0, non_special / 2};
      vocab.values = {non_special / 2, non_special};
      vocab.noise = {non_special, V};
      break;
    }
    case TaskId::FuzzyInContextRecall:
      vocab.keys = {0, (V - 1) / 2};
      vocab.values = {(V - 1) / 2, V - 1};
      vocab.pad = V - 1;
      break;
    case TaskId::SelectiveCopying:
      vocab.data = {0, V - 2};
      vocab.blank = V - 2;
      vocab.copy = V - 1;
      break;
    case TaskId::Compression:
      vocab.data = {0, V - 1};
      vocab.compress = V - 1;
      break;
    case TaskId::Memorization:
      vocab.keys = {0, (V - 1) / 2};
      vocab.values = {(V - 1) / 2, V - 1};
      vocab.insert = V - 1;
      break;
    case TaskId::Mqar:
      vocab.keys = {1, V / 2};
      vocab.values = {V / 2, V};
      break;
  }
  return vocab;
}

std::string token_name(const Vocabulary& vocab, int32_t token) {
  if (token == vocab.pad) return "PAD";
  if (token == vocab.blank) return "BLANK";
  if (token == vocab.copy) return "COPY";
  if (token == vocab.compress) return "COMPRESS";
  if (token == vocab.insert) return "INSERT";
  if (vocab.noise.contains(token)) return fmt::format("~{}", token);
  return fmt::format("{}", token);
}

}  // namespace mad::tasks
