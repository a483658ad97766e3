// Every preset in configs/architectures/ loads and builds, and runs a forward and backward pass; the
// pre-up-projection mLSTM block's parameter count and state at D = 128, counted by hand.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/yaml.h"
#include "models/describe.h"
#include "tests/support/gradcheck.h"
#include "tests/support/evaluate.h"
#include "tests/support/layer_run.h"

namespace mad::models {
namespace {

TEST(Presets, EveryArchitectureFileBuildsAndRuns) {
  const std::filesystem::path dir = std::filesystem::path(MAD_SOURCE_DIR) / "configs" / "architectures";
  int count = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    if (file.path().extension() != ".yml") continue;
    SCOPED_TRACE(file.path().string());
    const ArchSpec spec = arch_from_file(file.path().string());
    EXPECT_EQ(spec.dim, 128);
    Model model(spec, BackboneKind::language_model, 16, 128);
    model.initialize(1);
    const Tensor tokens = Tensor::from<int32_t>({1, 8}, {1, 2, 3, 4, 5, 6, 7, 8});
    Tape tape;
    Var logits = model.logits(tape, tokens);
    EXPECT_EQ(logits.shape(), (Shape{1, 8, 16}));
    tape.backward(sum_all(logits));
    const std::vector<float> g = model.params().grads().to_vector<float>();
    bool finite = true;
    for (float v : g) finite = finite && std::isfinite(v);
    EXPECT_TRUE(finite);
    EXPECT_GT(describe(model).params, 0);
    ++count;
  }
  EXPECT_GE(count, 6);
}

// mlstm-preup-block at D = 128 (inner 256, 4 heads of DH = 64, conv 4, q/k/v blocks of 4), by hand from
// models/layers/mlstm_preup.cpp:
//   proj_up 128 * 512 = 65,536; conv 256 * 4 + 256 = 1,280; q, k, v 3 * (64 blocks * 4 * 4) = 3,072;
//   gates 2 * (4 * 768 + 4) = 6,152; head norm 256; learnable skip 256; proj_down 256 * 128 = 32,768
//   = 109,320. State (layers.md E): 4 * (64*64 + 64 + 1) + 3 * 256 = 17,412 floats.
TEST(MlstmPreup, CountAndStateAtD128) {
  const ArchSpec spec = arch_from_names(std::vector<std::string>{"mlstm-preup-block"}, 128);
  Model model(spec, BackboneKind::language_model, 16, 128);
  EXPECT_EQ(model.layer_params(0), 65536 + 1280 + 3072 + 6152 + 256 + 256 + 32768);
  EXPECT_EQ(model.layer_params(0), 109320);
  EXPECT_EQ(model.layer_state(0).floats, 17412);
  EXPECT_TRUE(model.layer_state(0).fixed);
}

// The block's mLSTM kernels agree (values and every gradient) at a small size.
TEST(MlstmPreup, KernelsAgree) {
  constexpr int64_t D = 16, T = 10;
  testing::LayerRunOptions options;
  options.reinitialize = [](ParamStore& params) {  // gates away from their init
    Rng rng(4);
    for (const auto& e : params.entries()) initialize(e.value, Init::normal(0, 0.3), rng);
  };
  auto run = [&](const char* kernel, int64_t chunk) {
    config::Value o = config::Value::map();
    o.set("kernel", config::Value(std::string(kernel)));
    o.set("chunk_size", config::Value(chunk));
    o.set("cell_eps", config::Value(0.0));
    return testing::run_layer("mlstm-preup-block", o, D, T, options);
  };
  const testing::LayerRun ref = run("recurrent", 1);
  for (const auto& [kernel, chunk] : std::vector<std::pair<const char*, int64_t>>{{"parallel", 1}, {"chunkwise", 4}}) {
    const testing::LayerRun r = run(kernel, chunk);
    EXPECT_LE(testing::relative_error(r.out, ref.out), 1e-10) << kernel;
    EXPECT_LE(testing::relative_error(r.dx, ref.dx), 1e-10) << kernel;
    EXPECT_LE(testing::relative_error(r.dparams, ref.dparams), 1e-10) << kernel;
  }
}

}  // namespace
}  // namespace mad::models
