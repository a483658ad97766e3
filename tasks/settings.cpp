#include "tasks/settings.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "config/canonical.h"
#include "core/budget.h"
#include "core/error.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {

namespace {

const std::array<SettingField, 13> kFields = {{
    {"vocab_size", &TaskSettings::vocab_size, "vocabulary size V, special and noise tokens included", std::nullopt},
    {"seq_len", &TaskSettings::seq_len, "sequence length L before the shift of the recall tasks", std::nullopt},
    {"num_train_examples", &TaskSettings::num_train_examples, "training sequences", std::nullopt},
    {"num_test_examples", &TaskSettings::num_test_examples, "test sequences", std::nullopt},
    {"k_motif_size", &TaskSettings::k_motif_size, "fuzzy recall: largest key motif (tokens per key)", std::nullopt},
    {"v_motif_size", &TaskSettings::v_motif_size, "fuzzy recall: largest value motif (tokens per value)",
     std::nullopt},
    {"multi_query", &TaskSettings::multi_query, "recall every value whose key was seen (always true in MAD)",
     std::nullopt},
    {"frac_noise", &TaskSettings::frac_noise, "recall: probability that a pair is replaced by noise", std::nullopt},
    {"noise_vocab_size", &TaskSettings::noise_vocab_size, "recall: noise tokens, taken from vocab_size",
     std::nullopt},
    {"num_tokens_to_copy", &TaskSettings::num_tokens_to_copy, "selective copying: data tokens to copy",
     std::nullopt},
    {"seed", &TaskSettings::seed, "seed of the generator (train first, then test)", std::nullopt},
    {"num_kv_pairs", &TaskSettings::num_kv_pairs, "mqar: key-value pairs per sequence, each queried once",
     TaskId::Mqar},
    {"power_a", &TaskSettings::power_a, "mqar: power law of the query gaps, p(gap g) ~ (g+1)^(power_a-1)",
     TaskId::Mqar},
}};

const std::array<std::string_view, 14> kNames = {
    "task",         "vocab_size",  "seq_len",    "num_train_examples", "num_test_examples",  "k_motif_size",
    "v_motif_size", "multi_query", "frac_noise", "noise_vocab_size",   "num_tokens_to_copy", "seed",
    "num_kv_pairs", "power_a"};

// A setting the task ignores must keep its default, so that a flag never silently does nothing.
void require_default(const TaskSettings& s, std::string_view name, bool is_default, std::string_view value) {
  MAD_CHECK(is_default, "setting {}={} is not used by {} (leave it at its default)", name, value,
            task_info(s.task).name);
}

void require_unused_noise(const TaskSettings& s) {
  require_default(s, "frac_noise", s.frac_noise == 0.0, config::format_double(s.frac_noise));
  require_default(s, "noise_vocab_size", s.noise_vocab_size == 0, std::to_string(s.noise_vocab_size));
}
void require_unused_motifs(const TaskSettings& s) {
  require_default(s, "k_motif_size", s.k_motif_size == 1, std::to_string(s.k_motif_size));
  require_default(s, "v_motif_size", s.v_motif_size == 1, std::to_string(s.v_motif_size));
}
void require_unused_copy(const TaskSettings& s) {
  require_default(s, "num_tokens_to_copy", s.num_tokens_to_copy == 0, std::to_string(s.num_tokens_to_copy));
}

void require_unused_mqar(const TaskSettings& s) {
  const TaskSettings defaults;
  require_default(s, "num_kv_pairs", s.num_kv_pairs == defaults.num_kv_pairs, std::to_string(s.num_kv_pairs));
  require_default(s, "power_a", s.power_a == defaults.power_a, config::format_double(s.power_a));
}

void validate_recall(const TaskSettings& s) {
  MAD_CHECK(s.seq_len % 2 == 0 && s.seq_len >= 4,
            "seq_len={} is invalid for {}: it must be even and at least 4 (key-value pairs, the last one the "
            "probe)",
            s.seq_len, task_info(s.task).name);
  MAD_CHECK(s.frac_noise >= 0.0 && s.frac_noise < 1.0, "frac_noise={} must be in [0, 1)",
            config::format_double(s.frac_noise));
  MAD_CHECK(s.noise_vocab_size >= 0, "noise_vocab_size={} must be >= 0", s.noise_vocab_size);
  MAD_CHECK(s.frac_noise == 0.0 || s.noise_vocab_size > 0,
            "frac_noise={} needs noise tokens: set noise_vocab_size > 0", config::format_double(s.frac_noise));
  MAD_CHECK(s.vocab_size - s.noise_vocab_size >= 2,
            "vocab_size={} with noise_vocab_size={} leaves {} tokens for keys and values; need vocab_size >= "
            "noise_vocab_size + 2",
            s.vocab_size, s.noise_vocab_size, s.vocab_size - s.noise_vocab_size);
  require_unused_motifs(s);
  require_unused_copy(s);
}

void validate_fuzzy(const TaskSettings& s) {
  MAD_CHECK(s.k_motif_size >= 1 && s.v_motif_size >= 1, "k_motif_size={} and v_motif_size={} must be >= 1",
            s.k_motif_size, s.v_motif_size);
  const Vocabulary vocab = vocabulary(s);
  MAD_CHECK(vocab.keys.size() >= s.k_motif_size && vocab.values.size() >= s.v_motif_size,
            "vocab_size={} gives {} key tokens and {} value tokens, too few for motifs of k_motif_size={} and "
            "v_motif_size={} distinct tokens; need vocab_size >= {}",
            s.vocab_size, vocab.keys.size(), vocab.values.size(), s.k_motif_size, s.v_motif_size,
            std::max(2 * s.k_motif_size + 1, 2 * s.v_motif_size));
  const int64_t pair = s.k_motif_size + s.v_motif_size;
  MAD_CHECK(s.seq_len > 2 * pair, "seq_len={} is too short for fuzzy-in-context-recall: it must exceed 2 * "
            "(k_motif_size + v_motif_size) = {}",
            s.seq_len, 2 * pair);
  require_unused_noise(s);
  require_unused_copy(s);
}

void validate_selective_copying(const TaskSettings& s) {
  MAD_CHECK(s.vocab_size >= 3, "vocab_size={} is too small for selective-copying: it needs at least one data "
            "token plus the blank and copy tokens (vocab_size >= 3)",
            s.vocab_size);
  MAD_CHECK(s.num_tokens_to_copy >= 1, "num_tokens_to_copy={} must be >= 1", s.num_tokens_to_copy);
  MAD_CHECK(s.seq_len > 2 * s.num_tokens_to_copy + 1,
            "seq_len={} must exceed 2 * num_tokens_to_copy + 1 = {} (the data, the copy token and the answer)",
            s.seq_len, 2 * s.num_tokens_to_copy + 1);
  require_unused_noise(s);
  require_unused_motifs(s);
}

void validate_compression(const TaskSettings& s) {
  MAD_CHECK(s.vocab_size >= 2, "vocab_size={} is too small for compression: it needs a data token and the "
            "compression token (vocab_size >= 2)",
            s.vocab_size);
  MAD_CHECK(s.seq_len >= 2, "seq_len={} must be >= 2 for compression", s.seq_len);
  require_unused_noise(s);
  require_unused_motifs(s);
  require_unused_copy(s);
}

void validate_memorization(const TaskSettings& s) {
  MAD_CHECK(s.vocab_size >= 3, "vocab_size={} is too small for memorization: it needs a key, a value and the "
            "insert token (vocab_size >= 3)",
            s.vocab_size);
  MAD_CHECK(s.seq_len % 2 == 0 && s.seq_len >= 2,
            "seq_len={} is invalid for memorization: it must be even ([key, insert] pairs)", s.seq_len);
  require_unused_noise(s);
  require_unused_motifs(s);
  require_unused_copy(s);
}

// zoology's _mqar asserts input_seq_len even and num_kv_pairs * 4 <= input_seq_len; keys are drawn
// without replacement from [1, V/2) and values from [V/2, V).
void validate_mqar(const TaskSettings& s) {
  MAD_CHECK(s.vocab_size >= 4, "vocab_size={} is too small for mqar: keys are [1, vocab_size/2) and values "
            "[vocab_size/2, vocab_size), so it needs vocab_size >= 4",
            s.vocab_size);
  MAD_CHECK(s.num_kv_pairs >= 1, "num_kv_pairs={} must be >= 1", s.num_kv_pairs);
  // Values [V/2, V) are never fewer than the keys [1, V/2), so this bounds the values too.
  const int64_t keys = s.vocab_size / 2 - 1;
  MAD_CHECK(s.num_kv_pairs <= keys, "num_kv_pairs={} exceeds the {} distinct keys of vocab_size={} (keys are "
            "[1, vocab_size/2), values [vocab_size/2, vocab_size)); raise vocab_size to at least {}",
            s.num_kv_pairs, keys, s.vocab_size, 2 * s.num_kv_pairs + 2);
  MAD_CHECK(s.seq_len % 2 == 0, "seq_len={} must be even for mqar (query slots are token pairs)", s.seq_len);
  MAD_CHECK(2 * s.num_kv_pairs < s.seq_len, "num_kv_pairs={} does not fit seq_len={}: the pairs alone take "
            "2 * num_kv_pairs = {} tokens; raise seq_len to at least {} or lower num_kv_pairs",
            s.num_kv_pairs, s.seq_len, 2 * s.num_kv_pairs, 4 * s.num_kv_pairs);
  const int64_t space = (s.seq_len - 2 * s.num_kv_pairs) / 2;
  MAD_CHECK(space >= s.num_kv_pairs, "num_kv_pairs={} with seq_len={} leaves {} query slots ((seq_len - 2 * "
            "num_kv_pairs) / 2) for {} queries; raise seq_len to at least 4 * num_kv_pairs = {} or lower "
            "num_kv_pairs",
            s.num_kv_pairs, s.seq_len, space, s.num_kv_pairs, 4 * s.num_kv_pairs);
  MAD_CHECK(s.power_a > 0.0, "power_a={} must be > 0 (zoology's default is 0.01; 1 gives uniform query gaps)",
            config::format_double(s.power_a));
  require_unused_noise(s);
  require_unused_motifs(s);
  require_unused_copy(s);
}

}  // namespace

bool setting_applies(const SettingField& field, TaskId task) {
  return !field.only_task.has_value() || *field.only_task == task;
}

std::span<const SettingField> setting_fields() { return kFields; }
std::span<const std::string_view> setting_names() { return kNames; }

void set_setting(TaskSettings& settings, std::string_view name, const config::Value& value) {
  if (name == "task") {
    settings.task = task_from_name(value.as_string());
    return;
  }
  for (const SettingField& field : kFields) {
    if (field.name != name) continue;
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(settings.*member)>;
          settings.*member = value.as<T>();
        },
        field.member);
    return;
  }
  fail(fmt::format("{}: unknown task setting '{}'; valid settings: {}", value.where(), name,
                   fmt::join(kNames, ", ")));
}

TaskSettings settings_from_config(const config::Value& map, TaskSettings base) {
  map.check_keys(kNames, "task settings");
  if (map.is_null()) return base;
  for (const config::Value::Entry& entry : map.as_map()) set_setting(base, entry.first, entry.second);
  return base;
}

config::Value to_config(const TaskSettings& settings) {
  config::Value map = config::Value::map();
  map.set("task", std::string(task_info(settings.task).name));
  for (const SettingField& field : kFields) {
    if (!setting_applies(field, settings.task)) continue;
    std::visit([&](auto member) { map.set(std::string(field.name), settings.*member); }, field.member);
  }
  return map;
}

void validate(const TaskSettings& s) {
  constexpr int64_t kMaxTokensPerSplit = int64_t{1} << 32;
  MAD_CHECK(s.vocab_size >= 2 && s.vocab_size <= INT32_MAX, "vocab_size={} must be in [2, {}]", s.vocab_size,
            INT32_MAX);
  MAD_CHECK(s.seq_len >= 2, "seq_len={} must be >= 2", s.seq_len);
  MAD_CHECK(s.num_train_examples >= 1, "num_train_examples={} must be >= 1", s.num_train_examples);
  MAD_CHECK(s.num_test_examples >= 1, "num_test_examples={} must be >= 1", s.num_test_examples);
  MAD_CHECK(s.seed >= 0, "seed={} must be >= 0", s.seed);
  MAD_CHECK(s.multi_query, "multi_query=false is not supported: every MAD setting uses multi-query recall");
  MAD_CHECK(std::isfinite(s.frac_noise), "frac_noise must be a finite number");
  MAD_CHECK(std::isfinite(s.power_a), "power_a must be a finite number");
  if (s.task != TaskId::Mqar) require_unused_mqar(s);
  switch (s.task) {
    case TaskId::InContextRecall:
    case TaskId::NoisyInContextRecall: validate_recall(s); break;
    case TaskId::FuzzyInContextRecall: validate_fuzzy(s); break;
    case TaskId::SelectiveCopying: validate_selective_copying(s); break;
    case TaskId::Compression: validate_compression(s); break;
    case TaskId::Memorization: validate_memorization(s); break;
    case TaskId::Mqar: validate_mqar(s); break;
  }
  // A typo such as an extra zero should fail here, not as an out-of-memory crash.
  const int64_t largest = std::max(s.num_train_examples, s.num_test_examples);
  MAD_CHECK(largest <= kMaxTokensPerSplit / s.seq_len,
            "{} sequences of seq_len={} exceed the limit of {} tokens per split; check num_train_examples "
            "and num_test_examples",
            largest, s.seq_len, kMaxTokensPerSplit);
  // What generating the dataset holds at once: inputs and targets of both splits as int32 tokens, and the
  // generators' per-token tables (memorization's key -> value map and its shuffles, about 12 bytes per
  // vocabulary token). Checked against the memory budget before anything is generated.
  const int64_t tokens = checked_mul(s.num_train_examples + s.num_test_examples, s.seq_len, "dataset tokens");
  const int64_t bytes = checked_add(checked_mul(tokens, 2 * 4, "dataset bytes"),
                                    checked_mul(s.vocab_size, 12, "vocabulary tables"), "dataset bytes");
  check_memory(bytes, "the dataset",
               "reduce num_train_examples, num_test_examples, seq_len or vocab_size, or raise --max-memory");
}

int64_t sequence_length(const TaskSettings& settings) {
  switch (settings.task) {
    case TaskId::InContextRecall:
    case TaskId::NoisyInContextRecall: return settings.seq_len - 1;
    default: return settings.seq_len;
  }
}

std::string describe(const TaskSettings& settings) {
  std::string out(task_info(settings.task).name);
  for (const SettingField& field : kFields) {
    if (!setting_applies(field, settings.task)) continue;
    std::visit(
        [&](auto member) {
          const auto value = settings.*member;
          if constexpr (std::is_same_v<decltype(value), const double>) {
            out += fmt::format(" {}={}", field.name, config::format_double(value));
          } else {
            out += fmt::format(" {}={}", field.name, value);
          }
        },
        field.member);
  }
  return out;
}

}  // namespace mad::tasks
