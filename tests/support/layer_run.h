// One forward and backward of a registered layer at a small size: the common step of tests that compare
// two forms of a layer (kernels, modes, chunk sizes) or check that a setting of the step (freeing memory
// during backward) changes nothing. Compare runs with relative_error (tests/support/evaluate.h).
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <functional>
#include <string>

#include "config/value.h"
#include "core/params.h"
#include "core/tensor.h"

namespace mad::testing {

struct LayerRun {
  Tensor out;      // [2, T, D] the layer's output for a fixed random input
  Tensor dx;       // [2, T, D] its input gradient for a fixed random cotangent
  Tensor dparams;  // every parameter gradient, in parameter-block order
};

struct LayerRunOptions {
  DType dtype = DType::F64;
  // Called after the parameters are initialised (seed 17), e.g. to move gates away from their init.
  std::function<void(ParamStore&)> reinitialize;
  // Runs backward with Tape::set_free_in_backward and NaN-filled releases.
  bool free_in_backward = false;
};

// Builds layer `name` of the builtin registry at width D with `overrides` for sequences of T tokens and
// runs it on input randn([2, T, D], seed 4) with cotangent randn(seed 5).
LayerRun run_layer(const std::string& name, const config::Value& overrides, int64_t D, int64_t T,
                   const LayerRunOptions& options = {});

// A layer name as a test name, for suites over the registry: "mh-attention" -> "mh_attention".
inline std::string layer_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

}  // namespace mad::testing
