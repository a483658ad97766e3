#include "config/canonical.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/sha256.h"

namespace mad::config {

namespace {

// Decodes one UTF-8 sequence starting at text[i] and advances i; invalid bytes become U+FFFD.
uint32_t next_code_point(std::string_view text, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  int length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > text.size()) {
    ++i;
    return 0xFFFD;
  }
  uint32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (int k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += length;
  return cp;
}

// JSON string with Python's ensure_ascii escaping: printable ASCII as is, everything else as \uXXXX
// (UTF-16 surrogate pairs above U+FFFF).
void append_string(std::string& out, std::string_view text) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = next_code_point(text, i);
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (cp >= 0x20 && cp < 0x7F) {
          out += static_cast<char>(cp);
        } else if (cp < 0x10000) {
          out += fmt::format("\\u{:04x}", cp);
        } else {
          const uint32_t v = cp - 0x10000;
          out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        }
    }
  }
  out += '"';
}

void append(std::string& out, const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Null: out += "null"; break;
    case Value::Kind::Bool: out += value.as_bool() ? "true" : "false"; break;
    case Value::Kind::Int: out += fmt::format("{}", value.as_int()); break;
    case Value::Kind::Double: out += format_double(value.as_double()); break;
    case Value::Kind::String: append_string(out, value.as_string()); break;
    case Value::Kind::List: {
      out += '[';
      const Value::List& items = value.as_list();
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += ", ";
        append(out, items[i]);
      }
      out += ']';
      break;
    }
    case Value::Kind::Map: {
      // Byte order of UTF-8 keys equals code-point order, which is how Python sorts them.
      std::vector<const Value::Entry*> entries;
      for (const Value::Entry& entry : value.as_map()) entries.push_back(&entry);
      std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += ", ";
        append_string(out, entries[i]->first);
        out += ": ";
        append(out, entries[i]->second);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  // fmt's default format is the shortest round-trip text with Python's switch to exponent notation
  // (exponent < -4 or >= 16); Python additionally marks integral values with ".0".
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string canonical(const Value& value) {
  std::string out;
  append(out, value);
  return out;
}

std::string canonical_hash(const Value& value) { return sha256_hex(canonical(value)); }

}  // namespace mad::config
