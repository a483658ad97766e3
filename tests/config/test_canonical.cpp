// Canonical form: equal to Python's json.dumps(value, sort_keys=True), independent of key order, and
// hashed with SHA-256.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "config/canonical.h"
#include "config/yaml.h"

namespace mad::config {
namespace {

TEST(Canonical, MatchesPythonJsonDumpsSortKeys) {
  // Expected text printed by Python 3.11:
  //   json.dumps({"b": 1, "a": [0.1, 1.0, 1e-5, 1e16, 1e15, 123456789012345678.0, 0.0001, -0.0,
  //               2.5e-300, "x\"y\\\n\u00e9\U0001F600\x7f", True, None, nan, inf]}, sort_keys=True)
  Value list = Value::list({0.1, 1.0, 1e-5, 1e16, 1e15, 123456789012345678.0, 0.0001, -0.0, 2.5e-300,
                            "x\"y\\\n\xc3\xa9\xf0\x9f\x98\x80\x7f", true, Value(),
                            std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity()});
  Value root;
  root.set("b", 1);
  root.set("a", list);
  EXPECT_EQ(canonical(root),
            R"({"a": [0.1, 1.0, 1e-05, 1e+16, 1000000000000000.0, 1.2345678901234568e+17, 0.0001, -0.0, )"
            R"(2.5e-300, "x\"y\\\n\u00e9\ud83d\ude00\u007f", true, null, NaN, Infinity], "b": 1})");
}

TEST(Canonical, IndependentOfKeyOrderAndSpelling) {
  const Value a = load_string("seq_len: 128\nvocab_size: 16\nopt: {lr: 0.001, betas: [0.9, 0.999]}\n");
  const Value b = load_string("opt:\n  betas:\n  - 9.0e-1\n  - 0.999\n  lr: 1e-3\nvocab_size: 16\nseq_len: 128\n");
  EXPECT_EQ(canonical(a), canonical(b));
  EXPECT_EQ(canonical_hash(a), canonical_hash(b));
  EXPECT_EQ(canonical(a), R"({"opt": {"betas": [0.9, 0.999], "lr": 0.001}, "seq_len": 128, "vocab_size": 16})");
  EXPECT_EQ(canonical_hash(a).size(), 64u);
  const Value c = load_string("seq_len: 128\nvocab_size: 32\nopt: {lr: 0.001, betas: [0.9, 0.999]}\n");
  EXPECT_NE(canonical_hash(a), canonical_hash(c));
}

TEST(Canonical, CanonicalTextReadsBackAsTheSameValue) {
  const Value a = load_string("b: [1, 2.5, 'x y', true, ~]\na: {z: -3, y: 1e-07}\n");
  EXPECT_EQ(load_string(canonical(a)), a);
}

TEST(Canonical, FormatDouble) {
  EXPECT_EQ(format_double(0.2), "0.2");
  EXPECT_EQ(format_double(0.0), "0.0");
  EXPECT_EQ(format_double(5e-4), "0.0005");
  EXPECT_EQ(format_double(1e-6), "1e-06");
  EXPECT_EQ(format_double(12800.0), "12800.0");
  EXPECT_EQ(format_double(-std::numeric_limits<double>::infinity()), "-Infinity");
}

}  // namespace
}  // namespace mad::config
