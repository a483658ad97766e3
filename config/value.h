// A configuration value: the tree every YAML file, task setting and architecture spec becomes.
//
// Only config/ knows YAML; the rest of madcpp sees this tree. A value is null, a bool, an integer, a
// double, a string, a list or a map. Maps keep their keys in file order (so a sweep expands in the order
// it was written) and keys are unique. Every value remembers where it came from (file, line and its path
// inside the document, e.g. `changes.vocab_size[2]`), so a wrong type or an unknown key is reported as
// `configs/tasks/x.yml:9: changes.vocab_size[2]: expected an integer, got 'abc'`.
//
// Conversions are strict: an integer never silently becomes a bool or a string, a double never becomes
// an integer (0.5 where a count is expected is an error, not 0). An integer is accepted where a double is
// expected.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace mad::config {

// Where a value was read from. line is 1-based; 0 means the value was built in code.
struct Location {
  std::string source;
  int line = 0;
};

class Value {
 public:
  enum class Kind { Null, Bool, Int, Double, String, List, Map };
  using List = std::vector<Value>;
  using Entry = std::pair<std::string, Value>;
  using Map = std::vector<Entry>;

  Value() = default;
  Value(bool b) : data_(b) {}
  Value(int i) : data_(int64_t{i}) {}
  Value(int64_t i) : data_(i) {}
  Value(double d) : data_(d) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(const char* s) : data_(std::string(s)) {}
  static Value list(List items = {});
  static Value map();

  Kind kind() const { return static_cast<Kind>(data_.index()); }
  bool is_null() const { return kind() == Kind::Null; }
  bool is_map() const { return kind() == Kind::Map; }
  bool is_list() const { return kind() == Kind::List; }

  // Provenance for error messages.
  const Location& location() const { return location_; }
  const std::string& path() const { return path_; }
  void set_location(Location location) { location_ = std::move(location); }
  // "file:line: path" (or as much of it as is known), the prefix of every error about this value.
  std::string where() const;
  // A short description for error messages: the scalar itself, or "a list" / "a map".
  std::string describe() const;

  // Strict conversions; each throws mad::Error naming where() and what was found.
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;
  const std::string& as_string() const;
  const List& as_list() const;
  const Map& as_map() const;

  // as<T>() for T in bool, int, int64_t, double, std::string and std::vector of those.
  template <class T>
  T as() const;

  // Map access. A null value behaves as an empty map (an empty YAML file is an empty config).
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Value* find(std::string_view key) const;
  const Value& at(std::string_view key) const;  // throws, naming the missing key
  // Inserts or replaces `key` (a replaced key keeps its position). Turns a null value into a map.
  Value& set(std::string key, Value value);
  // Removes `key` from a map; false when there was no such key (or this is not a map).
  bool erase(std::string_view key);
  // Appends to a list. Turns a null value into a list.
  void push_back(Value value);

  // Typed getters: the value at `key`, or `fallback` when the key is absent.
  template <class T>
  T get(std::string_view key) const {
    return at(key).as<T>();
  }
  template <class T>
  T get(std::string_view key, T fallback) const {
    const Value* v = find(key);
    return v ? v->as<T>() : fallback;
  }

  // Throws if the map has a key outside `valid`; the message lists the valid keys (and the closest one).
  // `what` names the thing being configured, e.g. "task settings".
  void check_keys(std::span<const std::string_view> valid, std::string_view what) const;
  void check_keys(std::initializer_list<std::string_view> valid, std::string_view what) const {
    check_keys(std::span<const std::string_view>(valid.begin(), valid.size()), what);
  }

  // Equal when the canonical forms are: the same data, whatever the key order or location. 1 and 1.0
  // differ.
  friend bool operator==(const Value& a, const Value& b);
  // Prints the canonical form.
  friend std::ostream& operator<<(std::ostream& out, const Value& value);

 private:
  // Gives this value and its children their path inside the document.
  void set_path(std::string path);
  [[noreturn]] void type_error(std::string_view expected) const;

  std::variant<std::monostate, bool, int64_t, double, std::string, List, Map> data_;
  Location location_;
  std::string path_;
};

template <class T>
struct is_std_vector : std::false_type {};
template <class T>
struct is_std_vector<std::vector<T>> : std::true_type {};

template <class T>
T Value::as() const {
  if constexpr (is_std_vector<T>::value) {
    T out;
    for (const Value& item : as_list()) out.push_back(item.as<typename T::value_type>());
    return out;
  } else if constexpr (std::is_same_v<T, bool>) {
    return as_bool();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return as_int();
  } else if constexpr (std::is_same_v<T, int>) {
    const int64_t v = as_int();
    if (v < INT32_MIN || v > INT32_MAX) type_error("an integer in the 32-bit range");
    return static_cast<int>(v);
  } else if constexpr (std::is_same_v<T, double>) {
    return as_double();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return as_string();
  } else {
    static_assert(is_std_vector<T>::value, "Value::as<T>: unsupported type");
  }
}

}  // namespace mad::config
