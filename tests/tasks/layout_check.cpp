#include "layout_check.h"

#include <fmt/format.h>

#include <set>
#include <vector>

#include "tasks/token_matrix.h"
#include "tasks/vocabulary.h"

namespace mad::tasks::testing {

namespace {

using Tokens = std::vector<int32_t>;

// Train targets of the shifted tasks are the next input token everywhere: targets[p] == x[p + 1].
std::string check_next_token_targets(const Tokens& x, std::span<const int32_t> targets) {
  for (size_t p = 0; p < targets.size(); ++p) {
    if (targets[p] != x[p + 1]) return fmt::format("train target {} is {}, not the next token {}", p, targets[p], x[p + 1]);
  }
  return "";
}

std::string check_recall(const TaskSettings& s, Split split, std::span<const int32_t> inputs,
                         std::span<const int32_t> targets) {
  const Vocabulary vocab = vocabulary(s);
  const auto L = static_cast<size_t>(s.seq_len);
  // The unshifted sequence: the last token only survives as the last target.
  Tokens x(inputs.begin(), inputs.end());
  x.push_back(targets.back());
  std::map<int32_t, int32_t> value_of;
  for (size_t i = 0; i < L / 2; ++i) {
    const int32_t key = x[2 * i], value = x[2 * i + 1];
    const bool last = i == L / 2 - 1;
    int32_t expected_label = kIgnoreIndex;  // of the value position 2i+1
    if (vocab.noise.contains(key) || vocab.noise.contains(value)) {
      if (last) return "the final probe pair is noise";
      if (!vocab.noise.contains(key) || !vocab.noise.contains(value)) {
        return fmt::format("pair {} mixes noise and key/value tokens ({}, {})", i, key, value);
      }
    } else {
      if (!vocab.keys.contains(key)) return fmt::format("position {}: {} is not a key", 2 * i, key);
      if (!vocab.values.contains(value)) return fmt::format("position {}: {} is not a value", 2 * i + 1, value);
      const auto it = value_of.find(key);
      if (it != value_of.end() && it->second != value) {
        return fmt::format("key {} has value {} at pair {} but {} before", key, value, i, it->second);
      }
      if (last && it == value_of.end()) return fmt::format("the probe key {} was not shown before", key);
      if (it != value_of.end()) expected_label = value;
      value_of[key] = value;
    }
    if (split == Split::Test) {
      if (i > 0 && targets[2 * i - 1] != kIgnoreIndex) return fmt::format("key position {} is labelled", 2 * i);
      if (targets[2 * i] != expected_label) {
        return fmt::format("value position {} has label {}, expected {}", 2 * i + 1, targets[2 * i], expected_label);
      }
    }
  }
  return split == Split::Train ? check_next_token_targets(x, targets) : "";
}

// Fuzzy recall, parsed back into its pairs of motifs.
struct FuzzyPair {
  Tokens key, value;
  size_t value_start;  // position of the value in the padded sequence
};
struct FuzzySequence {
  Tokens x;  // padded, length L+1
  size_t n_pad = 0;
  std::vector<FuzzyPair> pairs;
};

std::string parse_fuzzy(const TaskSettings& s, std::span<const int32_t> inputs, std::span<const int32_t> targets,
                        FuzzySequence& seq) {
  const Vocabulary vocab = vocabulary(s);
  seq.x.assign(inputs.begin(), inputs.end());
  seq.x.push_back(targets.back());  // the final probe value's last token
  while (seq.n_pad < seq.x.size() && seq.x[seq.n_pad] == vocab.pad) ++seq.n_pad;
  if (seq.n_pad < 2) return fmt::format("{} padding tokens; the reference always pads at least 2", seq.n_pad);
  size_t p = seq.n_pad;
  while (p < seq.x.size()) {
    FuzzyPair pair;
    while (p < seq.x.size() && vocab.keys.contains(seq.x[p])) pair.key.push_back(seq.x[p++]);
    pair.value_start = p;
    while (p < seq.x.size() && vocab.values.contains(seq.x[p])) pair.value.push_back(seq.x[p++]);
    if (pair.key.empty() || pair.value.empty()) {
      return fmt::format("position {}: token {} breaks the key-motif/value-motif alternation", p,
                         p < seq.x.size() ? seq.x[p] : -1);
    }
    seq.pairs.push_back(std::move(pair));
  }
  return "";
}

bool distinct(const Tokens& motif) { return std::set<int32_t>(motif.begin(), motif.end()).size() == motif.size(); }

std::string check_fuzzy(const TaskSettings& s, Split split, std::span<const int32_t> inputs,
                        std::span<const int32_t> targets) {
  FuzzySequence seq;
  if (std::string error = parse_fuzzy(s, inputs, targets, seq); !error.empty()) return error;
  std::map<Tokens, Tokens> value_of;
  Tokens expected_labels(seq.x.size(), kIgnoreIndex);
  for (size_t j = 0; j < seq.pairs.size(); ++j) {
    const FuzzyPair& pair = seq.pairs[j];
    const auto key_size = static_cast<int64_t>(pair.key.size());
    const auto value_size = static_cast<int64_t>(pair.value.size());
    if (split == Split::Test ? key_size != s.k_motif_size : key_size > s.k_motif_size) {
      return fmt::format("pair {}: key motif of {} tokens (k_motif_size {})", j, key_size, s.k_motif_size);
    }
    if (value_size > s.v_motif_size) return fmt::format("pair {}: value motif of {} tokens", j, value_size);
    if (!distinct(pair.key) || !distinct(pair.value)) return fmt::format("pair {}: a motif repeats a token", j);
    const auto it = value_of.find(pair.key);
    if (it != value_of.end() && it->second != pair.value) return fmt::format("pair {}: key with a second value", j);
    if (it != value_of.end() || j + 1 == seq.pairs.size()) {
      for (size_t k = 0; k < pair.value.size(); ++k) expected_labels[pair.value_start + k] = pair.value[k];
    }
    value_of[pair.key] = pair.value;
  }
  if (split == Split::Train) return check_next_token_targets(seq.x, targets);
  for (size_t p = 0; p < targets.size(); ++p) {
    if (targets[p] != expected_labels[p + 1]) {
      return fmt::format("target {} is {}, expected {}", p, targets[p], expected_labels[p + 1]);
    }
  }
  return "";
}

std::string check_selective_copying(const TaskSettings& s, std::span<const int32_t> inputs,
                                    std::span<const int32_t> targets) {
  const Vocabulary vocab = vocabulary(s);
  const auto L = static_cast<size_t>(s.seq_len), n = static_cast<size_t>(s.num_tokens_to_copy);
  const size_t copy_at = L - n - 1;
  if (inputs[copy_at] != vocab.copy) return fmt::format("position {} is {}, not the copy token", copy_at, inputs[copy_at]);
  Tokens data;
  size_t blanks = 0;
  for (size_t p = 0; p < copy_at; ++p) {
    if (inputs[p] == vocab.blank) {
      ++blanks;
    } else if (vocab.data.contains(inputs[p])) {
      data.push_back(inputs[p]);
    } else {
      return fmt::format("position {}: {} is neither data nor blank", p, inputs[p]);
    }
  }
  if (data.size() != n || blanks != L - 2 * n - 1) return fmt::format("{} data tokens and {} blanks", data.size(), blanks);
  if (!vocab.data.contains(inputs[copy_at - 1])) return "the token before the copy token is not a data token";
  for (size_t p = copy_at + 1; p < L; ++p) {
    if (inputs[p] != vocab.blank) return fmt::format("position {} after the copy token is not blank", p);
  }
  for (size_t p = 0; p < L; ++p) {
    const int32_t expected = p < L - n ? kIgnoreIndex : data[p - (L - n)];
    if (targets[p] != expected) return fmt::format("target {} is {}, expected {}", p, targets[p], expected);
  }
  return "";
}

std::string check_compression(const TaskSettings& s, std::span<const int32_t> inputs, std::span<const int32_t> targets) {
  const Vocabulary vocab = vocabulary(s);
  if (inputs.back() != vocab.compress) return "the last token is not the compression token";
  for (size_t p = 0; p + 1 < inputs.size(); ++p) {
    if (!vocab.data.contains(inputs[p])) return fmt::format("position {}: {} is not a data token", p, inputs[p]);
  }
  for (size_t p = 0; p < inputs.size(); ++p) {
    if (targets[p] != inputs[p]) return fmt::format("target {} is not the input", p);
  }
  return "";
}

std::string check_memorization(const TaskSettings& s, std::span<const int32_t> inputs, std::span<const int32_t> targets) {
  const Vocabulary vocab = vocabulary(s);
  for (size_t p = 0; p < inputs.size(); p += 2) {
    if (!vocab.keys.contains(inputs[p])) return fmt::format("position {}: {} is not a key", p, inputs[p]);
    if (inputs[p + 1] != vocab.insert) return fmt::format("position {} is not the insert token", p + 1);
    if (targets[p] != kIgnoreIndex) return fmt::format("key position {} is labelled", p);
    if (!vocab.values.contains(targets[p + 1])) return fmt::format("target {}: {} is not a value", p + 1, targets[p + 1]);
  }
  return "";
}

// MQAR (zoology's multiquery_ar): n distinct keys from [1, V/2) and n distinct values from [V/2, V) in
// positions [0, 2n); then each key exactly once at an even offset 2n + 2g, labelled with its value; every
// other target ignored; every token in [0, V).
std::string check_mqar(const TaskSettings& s, std::span<const int32_t> inputs, std::span<const int32_t> targets) {
  const Vocabulary vocab = vocabulary(s);
  const auto n = static_cast<size_t>(s.num_kv_pairs);
  if (vocab.keys.begin != 1 || vocab.keys.end != s.vocab_size / 2 || vocab.values.end != s.vocab_size) {
    return "the key and value ranges are not [1, V/2) and [V/2, V)";
  }
  std::map<int32_t, int32_t> value_of;
  std::set<int32_t> values;
  for (size_t j = 0; j < n; ++j) {
    const int32_t key = inputs[2 * j], value = inputs[2 * j + 1];
    if (!vocab.keys.contains(key)) return fmt::format("position {}: {} is not a key", 2 * j, key);
    if (!vocab.values.contains(value)) return fmt::format("position {}: {} is not a value", 2 * j + 1, value);
    if (!value_of.emplace(key, value).second) return fmt::format("key {} appears twice among the pairs", key);
    if (!values.insert(value).second) return fmt::format("value {} appears twice among the pairs", value);
    if (targets[2 * j] != kIgnoreIndex || targets[2 * j + 1] != kIgnoreIndex) {
      return fmt::format("pair {} is labelled", j);
    }
  }
  std::set<int32_t> queried;
  for (size_t p = 0; p < inputs.size(); ++p) {
    if (inputs[p] < 0 || inputs[p] >= s.vocab_size) return fmt::format("position {}: {} is not a token", p, inputs[p]);
    if (p < 2 * n || targets[p] == kIgnoreIndex) continue;
    if ((p - 2 * n) % 2 != 0) return fmt::format("query at position {} is not at 2n + 2g", p);
    const auto it = value_of.find(inputs[p]);
    if (it == value_of.end()) return fmt::format("position {}: query {} is not a key of the pairs", p, inputs[p]);
    if (targets[p] != it->second) {
      return fmt::format("position {}: query {} is labelled {}, its value is {}", p, inputs[p], targets[p], it->second);
    }
    if (!queried.insert(inputs[p]).second) return fmt::format("key {} is queried twice", inputs[p]);
  }
  if (queried.size() != n) return fmt::format("{} of the {} keys are queried", queried.size(), n);
  return "";
}

}  // namespace

std::string check_sequence(const TaskSettings& settings, Split split, std::span<const int32_t> inputs,
                           std::span<const int32_t> targets) {
  const auto length = static_cast<size_t>(sequence_length(settings));
  if (inputs.size() != length || targets.size() != length) {
    return fmt::format("length {}/{}, expected {}", inputs.size(), targets.size(), length);
  }
  switch (settings.task) {
    case TaskId::InContextRecall:
    case TaskId::NoisyInContextRecall: return check_recall(settings, split, inputs, targets);
    case TaskId::FuzzyInContextRecall: return check_fuzzy(settings, split, inputs, targets);
    case TaskId::SelectiveCopying: return check_selective_copying(settings, inputs, targets);
    case TaskId::Compression: return check_compression(settings, inputs, targets);
    case TaskId::Memorization: return check_memorization(settings, inputs, targets);
    case TaskId::Mqar: return check_mqar(settings, inputs, targets);
  }
  return "unknown task";
}

std::string check_memorization_map(std::span<const int32_t> inputs, std::span<const int32_t> targets,
                                   std::map<int32_t, int32_t>& map) {
  for (size_t p = 0; p + 1 < inputs.size(); p += 2) {
    const auto [it, inserted] = map.emplace(inputs[p], targets[p + 1]);
    if (it->second != targets[p + 1]) {
      return fmt::format("key {} maps to {} and to {}", inputs[p], it->second, targets[p + 1]);
    }
    if (inserted) {
      for (const auto& [key, value] : map) {
        if (key != inputs[p] && value == targets[p + 1]) return fmt::format("keys {} and {} share a value", key, inputs[p]);
      }
    }
  }
  return "";
}

bool fuzzy_probe_answerable(const TaskSettings& settings, Split, std::span<const int32_t> inputs,
                            std::span<const int32_t> targets) {
  FuzzySequence seq;
  if (!parse_fuzzy(settings, inputs, targets, seq).empty()) return false;
  for (size_t j = 0; j + 1 < seq.pairs.size(); ++j) {
    if (seq.pairs[j].key == seq.pairs.back().key) return true;
  }
  return false;
}

}  // namespace mad::tasks::testing
