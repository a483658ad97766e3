#include "tests/support/layer_run.h"

#include "models/registry.h"
#include "tests/support/gradcheck.h"

namespace mad::testing {

LayerRun run_layer(const std::string& name, const config::Value& overrides, int64_t D, int64_t T,
                   const LayerRunOptions& options) {
  const models::LayerRegistry& registry = models::builtin_layers();
  const config::Value cfg = registry.resolve(name, overrides, D);
  ParamStore params(options.dtype);
  auto layer = registry.find(name).build(cfg, ParamScope(params), {D, T, models::LinearInit::pytorch_default});
  params.finalize(17);
  if (options.reinitialize) options.reinitialize(params);
  params.zero_grad();
  Tape tape;
  tape.set_free_in_backward(options.free_in_backward);
  tape.arena().set_fill_released(options.free_in_backward);
  LayerRun r{Tensor(), Tensor::zeros({2, T, D}, options.dtype), Tensor()};
  Var x = tape.leaf(randn({2, T, D}, 4).to(options.dtype), true, r.dx);
  Var y = layer->forward(tape, x);
  r.out = y.value().clone();
  tape.backward(y, randn(y.shape(), 5).to(options.dtype));
  r.dparams = params.grads().clone();
  return r;
}

}  // namespace mad::testing
