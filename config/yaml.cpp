#include "config/yaml.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace mad::config {

namespace {

bool is_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, the YAML 1.2 core schema float.
bool is_float_text(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  const size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exponent = s.substr(e + 1);
    if (!exponent.empty() && (exponent[0] == '-' || exponent[0] == '+')) exponent.remove_prefix(1);
    if (!is_digits(exponent)) return false;
  }
  const size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return is_digits(mantissa);
  const std::string_view whole = mantissa.substr(0, dot), fraction = mantissa.substr(dot + 1);
  return (whole.empty() || is_digits(whole)) && (fraction.empty() || is_digits(fraction)) &&
         !(whole.empty() && fraction.empty());
}

Value at(Value value, const Location& location) {
  value.set_location(location);
  return value;
}

Location location_of(const YAML::Mark& mark, std::string_view source) {
  return Location{std::string(source), mark.is_null() ? 0 : mark.line + 1};
}

Value convert(const YAML::Node& node, const Location& location, std::string_view source) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return at(Value(), location);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      // "!" marks a quoted scalar, "?" a plain one.
      if (tag == "!" || tag == "tag:yaml.org,2002:str") return at(Value(node.Scalar()), location);
      if (tag != "?" && !tag.empty()) {
        fail(fmt::format("{}:{}: unsupported YAML tag '{}'", source, location.line, tag));
      }
      return parse_scalar(node.Scalar(), location);
    }
    case YAML::NodeType::Sequence: {
      Value list = at(Value::list(), location);
      for (const YAML::Node& item : node) {
        list.push_back(convert(item, location_of(item.Mark(), source), source));
      }
      return list;
    }
    case YAML::NodeType::Map: {
      Value map = at(Value::map(), location);
      for (const auto& entry : node) {
        // An entry's location is its key's line: that is where the reader looks.
        const Location key_location = location_of(entry.first.Mark(), source);
        if (!entry.first.IsScalar()) {
          fail(fmt::format("{}:{}: map keys must be plain text", source, key_location.line));
        }
        const std::string& key = entry.first.Scalar();
        if (map.contains(key)) {
          fail(fmt::format("{}:{}: duplicate key '{}'", source, key_location.line, key));
        }
        map.set(key, convert(entry.second, key_location, source));
      }
      return map;
    }
  }
  return at(Value(), location);
}

}  // namespace

Value parse_scalar(std::string_view text, Location location) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return at(Value(), location);
  }
  if (text == "true" || text == "True" || text == "TRUE") return at(Value(true), location);
  if (text == "false" || text == "False" || text == "FALSE") return at(Value(false), location);

  std::string_view unsigned_text = text;
  const bool negative = text[0] == '-';
  if (text[0] == '-' || text[0] == '+') unsigned_text.remove_prefix(1);
  if (is_digits(unsigned_text)) {
    // Parse with the sign attached so INT64_MIN is representable.
    std::string digits(unsigned_text);
    if (negative) digits.insert(digits.begin(), '-');
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      fail(fmt::format("{}:{}: integer {} is out of range", location.source, location.line, text));
    }
    return at(Value(v), location);
  }
  if (is_float_text(text)) {
    double v = 0;
    const std::string body(unsigned_text);
    std::from_chars(body.data(), body.data() + body.size(), v);
    return at(Value(negative ? -v : v), location);
  }
  if (unsigned_text == ".inf" || unsigned_text == ".Inf" || unsigned_text == ".INF") {
    const double inf = std::numeric_limits<double>::infinity();
    return at(Value(negative ? -inf : inf), location);
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return at(Value(std::numeric_limits<double>::quiet_NaN()), location);
  }
  return at(Value(std::string(text)), location);
}

Value load_string(std::string_view text, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    fail(fmt::format("{}:{}: invalid YAML: {}", source, e.mark.is_null() ? 0 : e.mark.line + 1, e.msg));
  }
  return convert(root, location_of(root.Mark(), source), source);
}

Value load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(fmt::format("cannot read config file '{}': {}", path.string(), std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return load_string(text.str(), path.string());
}

}  // namespace mad::config
