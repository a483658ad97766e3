// Reading YAML into config::Value. This file and yaml.cpp are the only code in madcpp that sees
// yaml-cpp.
//
// Plain scalars are resolved by YAML 1.2 core-schema rules, plus the capitalised True/False that the
// reference's PyYAML files use: `16` is an integer, `0.2` and `1e-4` are doubles, `true`/`True` a bool,
// `~`/`null`/empty is null, anything else (and anything quoted) a string. Duplicate keys are an error
// (yaml-cpp would silently keep one).
#pragma once

#include <filesystem>
#include <string_view>

#include "config/value.h"

namespace mad::config {

// Throws mad::Error "FILE:LINE: invalid YAML: ..." for malformed YAML, and names the file if it cannot
// be read.
Value load_file(const std::filesystem::path& path);
// `source` names the text in error messages.
Value load_string(std::string_view text, std::string_view source = "<string>");

// One plain scalar resolved as in a YAML file ("16" -> 16, "0.2" -> 0.2, "true" -> true, "abc" ->
// "abc"); for command-line overrides of configuration keys.
Value parse_scalar(std::string_view text, Location location = {});

}  // namespace mad::config
