#include "config/value.h"

#include <fmt/format.h>

#include <algorithm>
#include <ostream>

#include "config/canonical.h"
#include "core/error.h"

namespace mad::config {

namespace {

// Levenshtein distance, to suggest the valid key closest to a misspelt one.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

Value Value::list(List items) {
  Value v;
  v.data_ = List{};
  for (Value& item : items) v.push_back(std::move(item));
  return v;
}

Value Value::map() {
  Value v;
  v.data_ = Map{};
  return v;
}

namespace {

std::string where_text(const Location& location, const std::string& path) {
  std::string out = location.source;
  if (location.line > 0) out += fmt::format(":{}", location.line);
  if (!path.empty()) out += (out.empty() ? "" : ": ") + path;
  return out.empty() ? "config" : out;
}

}  // namespace

std::string Value::where() const { return where_text(location_, path_); }

std::string Value::describe() const {
  switch (kind()) {
    case Kind::Null: return "null";
    case Kind::String: return fmt::format("'{}'", std::get<std::string>(data_));
    case Kind::List: return "a list";
    case Kind::Map: return "a map";
    default: return canonical(*this);
  }
}

void Value::type_error(std::string_view expected) const {
  fail(fmt::format("{}: expected {}, got {}", where(), expected, describe()));
}

bool Value::as_bool() const {
  if (kind() != Kind::Bool) type_error("true or false");
  return std::get<bool>(data_);
}

int64_t Value::as_int() const {
  if (kind() != Kind::Int) type_error("an integer");
  return std::get<int64_t>(data_);
}

double Value::as_double() const {
  if (kind() == Kind::Int) return static_cast<double>(std::get<int64_t>(data_));
  if (kind() != Kind::Double) type_error("a number");
  return std::get<double>(data_);
}

const std::string& Value::as_string() const {
  if (kind() != Kind::String) type_error("a string");
  return std::get<std::string>(data_);
}

const Value::List& Value::as_list() const {
  if (kind() != Kind::List) type_error("a list");
  return std::get<List>(data_);
}

const Value::Map& Value::as_map() const {
  if (kind() != Kind::Map) type_error("a map");
  return std::get<Map>(data_);
}

const Value* Value::find(std::string_view key) const {
  if (is_null()) return nullptr;
  for (const Entry& entry : as_map()) {
    if (entry.first == key) return &entry.second;
  }
  return nullptr;
}

const Value& Value::at(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) fail(fmt::format("{}: missing required key '{}'", where(), key));
  return *v;
}

Value& Value::set(std::string key, Value value) {
  if (is_null()) data_ = Map{};
  if (kind() != Kind::Map) type_error("a map");
  value.set_path(path_.empty() ? key : path_ + "." + key);
  Map& entries = std::get<Map>(data_);
  for (Entry& entry : entries) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return entry.second;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
  return entries.back().second;
}

bool Value::erase(std::string_view key) {
  if (kind() != Kind::Map) return false;
  Map& entries = std::get<Map>(data_);
  for (auto it = entries.begin(); it != entries.end(); ++it)
    if (it->first == key) {
      entries.erase(it);
      return true;
    }
  return false;
}

void Value::push_back(Value value) {
  if (is_null()) data_ = List{};
  if (kind() != Kind::List) type_error("a list");
  List& items = std::get<List>(data_);
  value.set_path(fmt::format("{}[{}]", path_, items.size()));
  items.push_back(std::move(value));
}

void Value::set_path(std::string path) {
  path_ = std::move(path);
  if (kind() == Kind::Map) {
    for (Entry& entry : std::get<Map>(data_)) {
      entry.second.set_path(path_.empty() ? entry.first : path_ + "." + entry.first);
    }
  } else if (kind() == Kind::List) {
    List& items = std::get<List>(data_);
    for (size_t i = 0; i < items.size(); ++i) items[i].set_path(fmt::format("{}[{}]", path_, i));
  }
}

bool operator==(const Value& a, const Value& b) { return canonical(a) == canonical(b); }

std::ostream& operator<<(std::ostream& out, const Value& value) { return out << canonical(value); }

void Value::check_keys(std::span<const std::string_view> valid, std::string_view what) const {
  if (is_null()) return;
  for (const Entry& entry : as_map()) {
    if (std::find(valid.begin(), valid.end(), entry.first) != valid.end()) continue;
    // The key's own line, and the path of the map that holds it.
    std::string message = fmt::format("{}: unknown key '{}' in {}",
                                      where_text(entry.second.location(), path_), entry.first, what);
    const auto closest = std::min_element(valid.begin(), valid.end(), [&](auto a, auto b) {
      return edit_distance(entry.first, a) < edit_distance(entry.first, b);
    });
    if (closest != valid.end() && edit_distance(entry.first, *closest) <= 3) {
      message += fmt::format(" (did you mean '{}'?)", *closest);
    }
    message += fmt::format("; valid keys: {}", fmt::join(valid, ", "));
    fail(message);
  }
}

}  // namespace mad::config
