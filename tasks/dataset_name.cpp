#include "tasks/dataset_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <utility>

#include "config/canonical.h"
#include "core/error.h"

namespace mad::tasks {

namespace {

// Short keys of the settings, in the reference's order (after the task, `t`); then mqar's own settings,
// which appear in mqar's names only (the reference has no mqar; MAD names are unchanged).
constexpr std::array<std::pair<std::string_view, std::string_view>, 13> kShortKeys = {{
    {"vocab_size", "vs"},
    {"seq_len", "sl"},
    {"num_train_examples", "ntr"},
    {"num_test_examples", "nte"},
    {"k_motif_size", "km"},
    {"v_motif_size", "vm"},
    {"multi_query", "mq"},
    {"frac_noise", "fn"},
    {"noise_vocab_size", "nvs"},
    {"num_tokens_to_copy", "ntc"},
    {"seed", "s"},
    {"num_kv_pairs", "nkv"},
    {"power_a", "pa"},
}};

const SettingField& field_named(std::string_view name) {
  for (const SettingField& field : setting_fields()) {
    if (field.name == name) return field;
  }
  fail(fmt::format("no setting named {}", name));
}

std::string encode(const TaskSettings& s, const SettingField& field) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto value = s.*member;
        if constexpr (std::is_same_v<decltype(value), const bool>) {
          return value ? "1" : "0";
        } else if constexpr (std::is_same_v<decltype(value), const double>) {
          std::string text = config::format_double(value);
          for (char& c : text) c = c == '.' ? '#' : c;
          return text;
        } else {
          return std::to_string(value);
        }
      },
      field.member);
}

void decode(TaskSettings& s, const SettingField& field, std::string_view text, std::string_view name) {
  const auto bad = [&](std::string_view expected) {
    fail(fmt::format("dataset directory name '{}': '{}' for {} is not {}", name, text, field.name, expected));
  };
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(s.*member)>;
        if constexpr (std::is_same_v<T, bool>) {
          if (text == "1" || text == "True") {
            s.*member = true;
          } else if (text == "0" || text == "False") {
            s.*member = false;
          } else {
            bad("1 or 0");
          }
        } else {
          std::string number(text);
          for (char& c : number) c = c == '#' ? '.' : c;
          T value{};
          const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
          if (ec != std::errc() || end != number.data() + number.size()) {
            bad(std::is_same_v<T, double> ? "a number" : "an integer");
          }
          s.*member = value;
        }
      },
      field.member);
}

}  // namespace

std::string dataset_dir_name(const TaskSettings& settings) {
  std::string name = fmt::format("t-{}", task_info(settings.task).shorthand);
  for (const auto& [key, short_key] : kShortKeys) {
    if (!setting_applies(field_named(key), settings.task)) continue;
    name += fmt::format("_{}-{}", short_key, encode(settings, field_named(key)));
  }
  return name;
}

std::optional<TaskSettings> parse_dataset_dir_name(std::string_view name) {
  if (!name.starts_with("t-")) return std::nullopt;
  TaskSettings settings;
  std::array<bool, kShortKeys.size()> seen{};
  bool task_seen = false;
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('_', start), name.size());
    const std::string_view element = name.substr(start, end - start);
    start = end + 1;
    const size_t dash = element.find('-');
    MAD_CHECK(dash != std::string_view::npos, "dataset directory name '{}': element '{}' is not key-value", name,
              element);
    const std::string_view key = element.substr(0, dash), value = element.substr(dash + 1);
    if (key == "t") {
      const std::optional<TaskId> task = task_from_shorthand(value);
      MAD_CHECK(task.has_value(), "dataset directory name '{}': unknown task shorthand '{}' (valid: CR, NR, FR, "
                "SC, C, M, MQAR)", name, value);
      settings.task = *task;
      task_seen = true;
      continue;
    }
    size_t k = 0;
    while (k < kShortKeys.size() && kShortKeys[k].second != key) ++k;
    MAD_CHECK(k < kShortKeys.size(), "dataset directory name '{}': unknown element '{}'", name, element);
    decode(settings, field_named(kShortKeys[k].first), value, name);
    seen[k] = true;
  }
  MAD_CHECK(task_seen, "dataset directory name '{}' lacks the task (t-...)", name);
  for (size_t k = 0; k < kShortKeys.size(); ++k) {
    const SettingField& field = field_named(kShortKeys[k].first);
    if (!setting_applies(field, settings.task)) {
      MAD_CHECK(!seen[k], "dataset directory name '{}': {}-... ({}) is not a setting of {}", name,
                kShortKeys[k].second, kShortKeys[k].first, task_info(settings.task).name);
      continue;
    }
    MAD_CHECK(seen[k], "dataset directory name '{}' lacks {}-... ({})", name, kShortKeys[k].second,
              kShortKeys[k].first);
  }
  return settings;
}

}  // namespace mad::tasks
