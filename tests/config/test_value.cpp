// config::Value: strict typed getters, defaults, unknown-key errors, paths in messages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/value.h"
#include "config/yaml.h"
#include "core/error.h"
#include "tests/support/test_util.h"

namespace mad::config {
namespace {

using mad::testing::error_of;

TEST(Value, TypedGettersAndDefaults) {
  const Value v = load_string("n: 16\nx: 0.25\nflag: true\nname: mamba\nsizes: [1, 2, 3]\n");
  EXPECT_EQ(v.get<int64_t>("n"), 16);
  EXPECT_EQ(v.get<int>("n"), 16);
  EXPECT_DOUBLE_EQ(v.get<double>("x"), 0.25);
  EXPECT_DOUBLE_EQ(v.get<double>("n"), 16.0);  // an integer is a valid double
  EXPECT_TRUE(v.get<bool>("flag"));
  EXPECT_EQ(v.get<std::string>("name"), "mamba");
  EXPECT_EQ(v.get<std::vector<int64_t>>("sizes"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(v.get<int64_t>("missing", 7), 7);
  EXPECT_EQ(v.get<std::string>("missing", "dflt"), "dflt");
  EXPECT_FALSE(v.get<bool>("missing", false));
}

TEST(Value, EraseRemovesOneKeyAndKeepsTheOthersInOrder) {
  Value v = load_string("a: 1\nb: 2\nc: 3\n");
  EXPECT_TRUE(v.erase("b"));
  EXPECT_FALSE(v.erase("b"));
  ASSERT_EQ(v.as_map().size(), 2u);
  EXPECT_EQ(v.as_map()[0].first, "a");
  EXPECT_EQ(v.as_map()[1].first, "c");
  EXPECT_FALSE(Value(3).erase("a"));
}

TEST(Value, WrongTypesAreErrorsWithLocation) {
  const Value v = load_string("n: 0.5\nflag: 1\nname: 12\nlist: [1, x]\n", "cfg.yml");
  EXPECT_EQ(error_of([&] { v.get<int64_t>("n"); }), "cfg.yml:1: n: expected an integer, got 0.5");
  EXPECT_EQ(error_of([&] { v.get<bool>("flag"); }), "cfg.yml:2: flag: expected true or false, got 1");
  EXPECT_EQ(error_of([&] { v.get<std::string>("name"); }), "cfg.yml:3: name: expected a string, got 12");
  EXPECT_EQ(error_of([&] { v.get<std::vector<int64_t>>("list"); }),
            "cfg.yml:4: list[1]: expected an integer, got 'x'");
  EXPECT_EQ(error_of([&] { v.get<int64_t>("absent"); }), "cfg.yml:1: missing required key 'absent'");
  EXPECT_EQ(error_of([&] { v.get<int64_t>("list"); }), "cfg.yml:4: list: expected an integer, got a list");
}

TEST(Value, Int32RangeIsChecked) {
  const Value v = load_string("big: 3000000000\n");
  EXPECT_EQ(v.get<int64_t>("big"), 3000000000);
  EXPECT_NE(error_of([&] { v.get<int>("big"); }).find("32-bit"), std::string::npos);
}

TEST(Value, UnknownKeyListsValidKeysAndSuggests) {
  const Value v = load_string("vocab_size: 16\nseq_lne: 128\n", "task.yml");
  const std::string message =
      error_of([&] { v.check_keys({"vocab_size", "seq_len", "seed"}, "task settings"); });
  EXPECT_EQ(message,
            "task.yml:2: unknown key 'seq_lne' in task settings (did you mean 'seq_len'?); "
            "valid keys: vocab_size, seq_len, seed");
  EXPECT_EQ(error_of([&] { v.check_keys({"vocab_size", "seq_lne"}, "x"); }), "");
}

TEST(Value, UnknownKeyWithoutCloseMatchHasNoSuggestion) {
  const Value v = load_string("outer:\n  zzzzzzzz: 1\n", "f.yml");
  EXPECT_EQ(error_of([&] { v.at("outer").check_keys({"alpha", "beta"}, "outer"); }),
            "f.yml:2: outer: unknown key 'zzzzzzzz' in outer; valid keys: alpha, beta");
}

TEST(Value, BuiltInCodeAndPaths) {
  Value root;
  root.set("b", 1);
  Value inner = Value::map();
  inner.set("c", "text");
  root.set("a", inner);
  root.set("b", 2);  // replacing keeps the position
  ASSERT_EQ(root.as_map().size(), 2u);
  EXPECT_EQ(root.as_map()[0].first, "b");
  EXPECT_EQ(root.get<int64_t>("b"), 2);
  EXPECT_EQ(root.at("a").at("c").path(), "a.c");
  EXPECT_EQ(error_of([&] { root.at("a").get<int64_t>("c"); }), "a.c: expected an integer, got 'text'");
  EXPECT_EQ(root, load_string("b: 2\na: {c: text}"));
  EXPECT_NE(Value(1), Value(1.0));
}

TEST(Value, NullIsAnEmptyMap) {
  const Value empty = load_string("");
  EXPECT_TRUE(empty.is_null());
  EXPECT_FALSE(empty.contains("x"));
  EXPECT_EQ(empty.get<int64_t>("x", 3), 3);
  EXPECT_NO_THROW(empty.check_keys({"a"}, "anything"));
}

}  // namespace
}  // namespace mad::config
