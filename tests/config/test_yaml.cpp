// YAML loading: scalar resolution, structure, and one-line errors naming file and line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/yaml.h"
#include "core/error.h"
#include "tests/support/test_util.h"

namespace mad::config {
namespace {

using mad::testing::error_of;

TEST(Yaml, ScalarResolution) {
  EXPECT_EQ(parse_scalar("16").kind(), Value::Kind::Int);
  EXPECT_EQ(parse_scalar("-3").as_int(), -3);
  EXPECT_EQ(parse_scalar("+3").as_int(), 3);
  EXPECT_EQ(parse_scalar("-9223372036854775808").as_int(), INT64_MIN);
  EXPECT_EQ(parse_scalar("0.2").as_double(), 0.2);
  EXPECT_EQ(parse_scalar("1e-4").as_double(), 1e-4);  // PyYAML would read this as a string; we don't
  EXPECT_EQ(parse_scalar(".5").as_double(), 0.5);
  EXPECT_EQ(parse_scalar("-2.").as_double(), -2.0);
  EXPECT_EQ(parse_scalar("1E+3").as_double(), 1000.0);
  EXPECT_TRUE(std::isinf(parse_scalar("-.inf").as_double()));
  EXPECT_TRUE(std::isnan(parse_scalar(".nan").as_double()));
  EXPECT_TRUE(parse_scalar("True").as_bool());
  EXPECT_FALSE(parse_scalar("false").as_bool());
  EXPECT_TRUE(parse_scalar("~").is_null());
  EXPECT_TRUE(parse_scalar("").is_null());
  for (const char* text : {"abc", "yes", "1.2.3", "e5", ".", "1e", "0x10", "12_800", "1-2"}) {
    EXPECT_EQ(parse_scalar(text).kind(), Value::Kind::String) << text;
  }
  EXPECT_NE(error_of([] { parse_scalar("99999999999999999999"); }).find("out of range"), std::string::npos);
}

TEST(Yaml, QuotedScalarsStayStrings) {
  const Value v = load_string("a: '16'\nb: \"true\"\nc: !!str 3\n");
  EXPECT_EQ(v.get<std::string>("a"), "16");
  EXPECT_EQ(v.get<std::string>("b"), "true");
  EXPECT_EQ(v.get<std::string>("c"), "3");
}

TEST(Yaml, NestedStructureKeepsFileOrder) {
  const Value v = load_string(
      "baseline:\n  vocab_size: 16\n  multi_query: True\nchanges:\n  seq_len: [256, 512]\n  "
      "vocab_size:\n    - 32\n    - 64\n");
  EXPECT_EQ(v.as_map()[0].first, "baseline");
  EXPECT_EQ(v.at("changes").as_map()[0].first, "seq_len");
  EXPECT_EQ(v.at("changes").at("vocab_size").as_list()[1].as_int(), 64);
  EXPECT_EQ(v.at("changes").at("vocab_size").as_list()[1].location().line, 8);
  EXPECT_TRUE(v.at("baseline").get<bool>("multi_query"));
}

TEST(Yaml, MalformedYamlNamesFileAndLine) {
  const std::string message = error_of([] { load_string("a: 1\nb: [1, 2\nc: 3\n", "bad.yml"); });
  EXPECT_EQ(message.rfind("bad.yml:", 0), 0u) << message;
  EXPECT_NE(message.find("invalid YAML"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;

  const std::string indent = error_of([] { load_string("a:\n  b: 1\n c: 2\n", "indent.yml"); });
  EXPECT_EQ(indent.rfind("indent.yml:3: invalid YAML", 0), 0u) << indent;
}

TEST(Yaml, DuplicateKeysAreErrors) {
  EXPECT_EQ(error_of([] { load_string("a: 1\nb: 2\na: 3\n", "dup.yml"); }), "dup.yml:3: duplicate key 'a'");
}

TEST(Yaml, FileLoadingAndMissingFile) {
  const auto path = std::filesystem::temp_directory_path() / "mad_test_config.yml";
  {
    std::ofstream out(path);
    out << "# a comment\nlr: 1e-3\n";
  }
  const Value v = load_file(path);
  EXPECT_EQ(v.get<double>("lr"), 1e-3);
  EXPECT_EQ(v.at("lr").where(), path.string() + ":2: lr");
  std::filesystem::remove(path);
  EXPECT_NE(error_of([&] { load_file(path); }).find("cannot read config file '" + path.string() + "'"),
            std::string::npos);
}

}  // namespace
}  // namespace mad::config
