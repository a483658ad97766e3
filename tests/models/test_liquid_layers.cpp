// LFM2's short convolution `conv`, attention's qk_norm option, and the liquid layers `cfc` and `ltc`
// (shared/docs/layers.md sections C and D): parameter counts and state sizes at D = 128 by hand; each layer
// against its step form written out from the formulas (with the state carried token to token); the wiring
// masks (masked weights get exactly zero gradient and do not affect the output); the wiring generator's
// counts; float64 gradient checks of the variants the registry-wide check (test_layers.cpp) does not build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "config/yaml.h"
#include "models/backbone.h"
#include "models/layers/wiring.h"
#include "tests/support/evaluate.h"
#include "tests/support/gradcheck.h"

namespace mad::models {
namespace {

using Vec = std::vector<double>;

struct Built {
  std::unique_ptr<ParamStore> params;
  std::unique_ptr<Layer> layer;
  config::Value config;

  const Tensor& value(const std::string& name) const {
    const int i = params->find(name);
    EXPECT_GE(i, 0) << name;
    return params->entry(i).value;
  }
  const Tensor& grad(const std::string& name) const { return params->entry(params->find(name)).grad; }
  Tensor forward(const Tensor& x) const {
    Tape tape;
    return layer->forward(tape, tape.constant(x)).value().clone();
  }
};

// A float64 layer built directly (parameter names without the model's prefix), biases randomised so that
// they matter.
Built build(const std::string& name, const std::string& overrides, int64_t D, int64_t T = 8) {
  Built b;
  b.config = builtin_layers().resolve(name, overrides.empty() ? config::Value::map() : config::load_string(overrides), D);
  b.params = std::make_unique<ParamStore>(DType::F64);
  b.layer = builtin_layers().find(name).build(b.config, ParamScope(*b.params), {D, T, LinearInit::pytorch_default});
  b.params->finalize(3);
  Rng rng(9);
  for (const auto& e : b.params->entries())
    if (e.name.find("bias") != std::string::npos) initialize(e.value, Init::normal(0, 0.1), rng);
  return b;
}

// y = W x + b for a [out, in] weight, optionally masked elementwise.
Vec affine(const Built& b, const std::string& name, const Vec& x, const Vec* mask = nullptr, bool bias = true) {
  const Tensor& W = b.value(name + ".weight");
  const int64_t out = W.shape()[0], in = W.shape()[1];
  EXPECT_EQ(static_cast<int64_t>(x.size()), in) << name;
  Vec y(static_cast<size_t>(out), 0.0);
  for (int64_t o = 0; o < out; ++o) {
    double acc = bias ? b.value(name + ".bias").item(o) : 0.0;
    for (int64_t i = 0; i < in; ++i) acc += W.item(o * in + i) * (mask ? (*mask)[static_cast<size_t>(o * in + i)] : 1.0) * x[static_cast<size_t>(i)];
    y[static_cast<size_t>(o)] = acc;
  }
  return y;
}

Vec row(const Tensor& x, int64_t b, int64_t t) {
  const int64_t T = x.shape()[1], D = x.shape()[2];
  Vec r(static_cast<size_t>(D));
  for (int64_t d = 0; d < D; ++d) r[static_cast<size_t>(d)] = x.item((b * T + t) * D + d);
  return r;
}

// max over [B, T, D] of |layer output - step form|, the step form given as a function of one sequence.
template <typename StepForm>
double max_step_error(const Built& layer, const Tensor& x, StepForm&& step_form) {
  const Tensor y = layer.forward(x);
  const int64_t B = x.shape()[0], T = x.shape()[1], D = x.shape()[2];
  double worst = 0;
  for (int64_t b = 0; b < B; ++b) {
    auto next = step_form();  // a fresh state per sequence; next(u_t) -> out_t
    for (int64_t t = 0; t < T; ++t) {
      const Vec out = next(row(x, b, t));
      for (int64_t d = 0; d < D; ++d) worst = std::max(worst, std::abs(out[static_cast<size_t>(d)] - y.item((b * T + t) * D + d)));
    }
  }
  return worst;
}

int64_t params_at_128(const std::string& yaml_layer) {
  const ArchSpec spec = arch_from_config(config::load_string("dim: 128\nlayers: [" + yaml_layer + "]"));
  Model model(spec, BackboneKind::language_model, 16, 127);
  return model.layer_params(0);
}
StateSize state_at_128(const std::string& yaml_layer) {
  const ArchSpec spec = arch_from_config(config::load_string("dim: 128\nlayers: [" + yaml_layer + "]"));
  Model model(spec, BackboneKind::language_model, 16, 127);
  return model.layer_state(0);
}

// ---- counts at D = 128 (layers.md E for the states) --------------------------------------------------------

// conv: in_proj 128 -> 384 and out_proj 128 -> 128 without bias, kernel [128, 3]; state the last K - 1 = 2
// gated inputs per channel.
TEST(LiquidCounts, ShortConv) {
  EXPECT_EQ(params_at_128("conv"), 128 * 384 + 128 * 3 + 128 * 128);  // 65,920
  EXPECT_EQ(params_at_128("conv"), 65920);
  EXPECT_EQ(state_at_128("conv").floats, 2 * 128);
  EXPECT_TRUE(state_at_128("conv").fixed);
  EXPECT_EQ(params_at_128("{type: conv, conv_bias: true}"), 65920 + 384 + 128 + 128);
  EXPECT_EQ(state_at_128("{type: conv, L_cache: 4}").floats, 3 * 128);
}

// qk_norm adds one scale vector of the head dimension for q and one for k.
TEST(LiquidCounts, AttentionQkNorm) {
  EXPECT_EQ(params_at_128("{type: mh-attention, qk_norm: true}"), 66048 + 2 * 8);
  EXPECT_EQ(params_at_128("{type: attention, qk_norm: true}"), 66048 + 2 * 128);
}

// cfc (dense): backbone Linear(128 + 128 -> 128), four heads Linear(128 -> 128), out_proj 128 -> 128, all
// with bias = 32,896 + 66,048 + 16,512 = 115,456; state 128.
// cfc (autoncp, 64 units, 16 motor, sparsity 0.5): command = int(0.4 * 48) = 19, inter = 29; three cells
// without backbone, four heads each over [input ; own state]: inter 4 * ((128 + 29) * 29 + 29),
// command 4 * ((29 + 19) * 19 + 19), motor 4 * ((19 + 16) * 16 + 16), out_proj 16 -> 128; state 64.
TEST(LiquidCounts, Cfc) {
  EXPECT_EQ(params_at_128("cfc"), (256 * 128 + 128) + 4 * (128 * 128 + 128) + (128 * 128 + 128));
  EXPECT_EQ(params_at_128("cfc"), 115456);
  EXPECT_EQ(state_at_128("cfc").floats, 128);
  const std::string ncp = "{type: cfc, wiring: autoncp, units: 64, motor_units: 16}";
  EXPECT_EQ(params_at_128(ncp), 4 * (157 * 29 + 29) + 4 * (48 * 19 + 19) + 4 * (35 * 16 + 16) + (16 * 128 + 128));
  EXPECT_EQ(params_at_128(ncp), 26532);
  EXPECT_EQ(state_at_128(ncp).floats, 64);
  // pure mode: ff1 and the [1, N] vectors A and w_tau.
  EXPECT_EQ(params_at_128("{type: cfc, mode: pure}"), (256 * 128 + 128) + (128 * 128 + 128) + 2 * 128 + (128 * 128 + 128));
}

// ltc (32 dense units over 128 inputs): gleak, vleak, cm 3 * 32; w, sigma, mu, erev 4 * 32 * 32; sensory
// w, sigma, mu, erev 4 * 128 * 32; input_w, input_b 2 * 128; out_proj 32 -> 128 with bias = 25,056; state 32.
TEST(LiquidCounts, Ltc) {
  EXPECT_EQ(params_at_128("ltc"), 3 * 32 + 4 * 32 * 32 + 4 * 128 * 32 + 2 * 128 + (32 * 128 + 128));
  EXPECT_EQ(params_at_128("ltc"), 25056);
  EXPECT_EQ(state_at_128("ltc").floats, 32);
  EXPECT_EQ(state_at_128("{type: ltc, wiring: autoncp, units: 24, motor_units: 8}").floats, 24);
}

// ---- conv (layers.md C.6) ----------------------------------------------------------------------------------

// The step form: the last K gated inputs in a FIFO (oldest first), updated token by token (oracles 1, 5).
TEST(ShortConv, SequenceEqualsStepWithCache) {
  constexpr int64_t D = 6, K = 3;
  for (const char* overrides : {"{}", "{conv_bias: true, L_cache: 4}"}) {
    const Built conv = build("conv", overrides, D);
    const int64_t k = conv.config.get<int64_t>("L_cache");
    const bool bias = conv.config.get<bool>("conv_bias");
    const Tensor& w = conv.value("conv.weight");
    const double error = max_step_error(conv, testing::randn({2, 7, D}, 1), [&] {
      return [&, fifo = std::vector<Vec>(static_cast<size_t>(k), Vec(D, 0.0))](const Vec& u) mutable {
        const Vec z = affine(conv, "in_proj", u, nullptr, bias);  // [B | C | x]
        std::rotate(fifo.begin(), fifo.begin() + 1, fifo.end());
        Vec y(D);
        for (int64_t c = 0; c < D; ++c) {
          fifo.back()[static_cast<size_t>(c)] = z[static_cast<size_t>(c)] * z[static_cast<size_t>(2 * D + c)];
          double r = bias ? conv.value("conv.bias").item(c) : 0.0;
          for (int64_t j = 0; j < k; ++j) r += w.item(c * k + j) * fifo[static_cast<size_t>(j)][static_cast<size_t>(c)];
          y[static_cast<size_t>(c)] = z[static_cast<size_t>(D + c)] * r;
        }
        return affine(conv, "out_proj", y, nullptr, bias);
      };
    });
    EXPECT_LE(error, 1e-13) << overrides;
  }
  static_assert(K == 3);
}

// With the kernel (0, 0, 1) the operator is pointwise: out_t = W_out (C ⊙ B ⊙ x) of token t only (oracle 3);
// with the trained-from-init kernel a change at t reaches t .. t + K - 1 and nothing earlier (oracle 2).
TEST(ShortConv, CausalAndIdentityKernelIsPointwise) {
  constexpr int64_t D = 4, T = 7;
  const Built conv = build("conv", "", D);
  const Tensor x = testing::randn({1, T, D}, 2);
  Tensor x2 = x.clone();
  for (int64_t d = 0; d < D; ++d) x2.data<double>()[3 * D + d] += 1.0;
  auto changed = [&](const Tensor& a, const Tensor& b, int64_t t) {
    double m = 0;
    for (int64_t d = 0; d < D; ++d) m = std::max(m, std::abs(a.item(t * D + d) - b.item(t * D + d)));
    return m > 0;
  };
  Tensor y = conv.forward(x), y2 = conv.forward(x2);
  for (int64_t t = 0; t < T; ++t) EXPECT_EQ(changed(y, y2, t), t >= 3 && t <= 5) << t;
  Tensor w = conv.value("conv.weight");
  for (int64_t c = 0; c < D; ++c)
    for (int64_t j = 0; j < 3; ++j) w.data<double>()[c * 3 + j] = j == 2 ? 1.0 : 0.0;
  y = conv.forward(x);
  y2 = conv.forward(x2);
  for (int64_t t = 0; t < T; ++t) EXPECT_EQ(changed(y, y2, t), t == 3) << t;
}

// ---- attention qk_norm (layers.md C.3, C.6.6) -----------------------------------------------------------------

TEST(QkNorm, GradientCheck) {
  const Built a = build("mh-attention", "{n_heads: 4, rotary_emb_dim: 4, qk_norm: true}", 16, 6);
  const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return a.layer->forward(tape, x); },
                                           testing::randn({2, 6, 16}, 5), *a.params);
  EXPECT_TRUE(r.ok) << r.report;
}

// The norm makes attention blind to the scale of q and k: scaling the q and k rows of Wqkv by 3 changes the
// output only through eps; without qk_norm it changes the softmax.
TEST(QkNorm, OutputIgnoresTheScaleOfQueriesAndKeys) {
  constexpr int64_t D = 16;
  for (bool qk_norm : {true, false}) {
    const Built a = build("mh-attention", std::string("{n_heads: 4, rotary_emb_dim: 4, qk_norm: ") + (qk_norm ? "true}" : "false}"), D);
    const Tensor x = testing::randn({2, 8, D}, 6);
    const Tensor before = a.forward(x);
    Tensor w = a.value("Wqkv.weight"), b = a.value("Wqkv.bias");
    for (int64_t j = 0; j < 2 * D * D; ++j) w.data<double>()[j] *= 3.0;
    for (int64_t j = 0; j < 2 * D; ++j) b.data<double>()[j] *= 3.0;
    const double change = testing::relative_error(a.forward(x), before);
    if (qk_norm) EXPECT_LT(change, 1e-4);
    else EXPECT_GT(change, 1e-2);
  }
}

// ---- cfc (layers.md D.1, D.2, D.6) ---------------------------------------------------------------------------

double lecun(double z) { return 1.7159 * std::tanh(0.666 * z); }

// The mask of wired cell `l` over [its input ; its own state] (D.2): |sensory adjacency| or |adjacency| from
// the previous layer, ones for the recurrence.
Vec cell_mask(const Wiring& w, size_t l, int64_t in) {
  const std::vector<int64_t>& neurons = w.layers[l];
  const auto N = static_cast<int64_t>(neurons.size());
  Vec m(static_cast<size_t>(N * (in + N)), 1.0);
  for (int64_t j = 0; j < N; ++j)
    for (int64_t i = 0; i < in; ++i) {
      const int64_t target = neurons[static_cast<size_t>(j)];
      const int8_t a = l == 0 ? w.sensory_synapse(i, target) : w.synapse(w.layers[l - 1][static_cast<size_t>(i)], target);
      m[static_cast<size_t>(j * (in + N) + i)] = a != 0 ? 1.0 : 0.0;
    }
  return m;
}

// One CfC cell step from the formulas of D.1 (Δt = 1).
Vec cfc_cell(const Built& b, const std::string& prefix, const std::string& mode, int64_t layers, const Vec* mask,
             const Vec& u, const Vec& h) {
  Vec z = u;
  z.insert(z.end(), h.begin(), h.end());
  for (int64_t l = 0; l < layers; ++l) {
    z = affine(b, prefix + "backbone." + std::to_string(2 * l), z);
    for (double& v : z) v = lecun(v);
  }
  const Vec a1 = affine(b, prefix + "ff1", z, mask);
  const size_t N = h.size();
  Vec out(N);
  if (mode == "pure") {
    const Tensor &A = b.value(prefix + "A"), &w_tau = b.value(prefix + "w_tau");
    for (size_t j = 0; j < N; ++j)
      out[j] = -A.item(j) * std::exp(-(std::abs(w_tau.item(j)) + std::abs(a1[j]))) * a1[j] + A.item(j);
    return out;
  }
  const Vec a2 = affine(b, prefix + "ff2", z, mask), ta = affine(b, prefix + "time_a", z), tb = affine(b, prefix + "time_b", z);
  for (size_t j = 0; j < N; ++j) {
    const double s = 1.0 / (1.0 + std::exp(-(ta[j] * 1.0 + tb[j])));
    out[j] = mode == "no_gate" ? std::tanh(a1[j]) + s * std::tanh(a2[j])
                               : std::tanh(a1[j]) * (1.0 - s) + s * std::tanh(a2[j]);
  }
  return out;
}

TEST(Cfc, SequenceEqualsStep) {
  constexpr int64_t D = 6;
  for (const char* overrides :
       {"{units: 5, backbone_units: 7}", "{units: 5, backbone_units: 7, mode: no_gate}",
        "{units: 5, backbone_units: 7, mode: pure}", "{units: 5, backbone_units: 4, backbone_layers: 2, motor_units: 3}",
        "{units: 5, backbone_layers: 0}", "{units: 10, motor_units: 3, wiring: autoncp}",
        "{units: 6, wiring: random, sparsity: 0.4}", "{units: 10, wiring: autoncp, motor_units: 2, mode: pure}"}) {
    const Built cfc = build("cfc", overrides, D);
    const std::string mode = cfc.config.get<std::string>("mode");
    const bool dense = cfc.config.get<std::string>("wiring") == "dense";
    const int64_t motor = wiring_motor(cfc.config);
    const Wiring w = wiring_from_config(cfc.config, D);
    std::vector<Vec> masks;
    for (size_t l = 0, in = D; !dense && l < w.layers.size(); in = w.layers[l].size(), ++l)
      masks.push_back(cell_mask(w, l, static_cast<int64_t>(in)));
    const double error = max_step_error(cfc, testing::randn({2, 7, D}, 3), [&] {
      std::vector<Vec> states;
      if (dense) states.emplace_back(static_cast<size_t>(cfc.config.get<int64_t>("units")), 0.0);
      for (const auto& layer : w.layers)
        if (!dense) states.emplace_back(layer.size(), 0.0);
      return [&, states](const Vec& x) mutable {
        Vec u = x;
        for (size_t l = 0; l < states.size(); ++l) {
          const std::string prefix = dense ? "rnn_cell." : "rnn_cell.layer_" + std::to_string(l) + ".";
          states[l] = cfc_cell(cfc, prefix, mode, dense ? cfc.config.get<int64_t>("backbone_layers") : 0,
                               dense ? nullptr : &masks[l], u, states[l]);
          u = states[l];
        }
        u.resize(static_cast<size_t>(motor));  // the motor neurons
        return affine(cfc, "out_proj", u);
      };
    });
    EXPECT_LE(error, 1e-13) << overrides;
  }
}

// Masked-out ff1 / ff2 weights get exactly zero gradient, and changing them changes nothing (D.6.4).
TEST(Cfc, MaskedWeightsHaveZeroGradientAndNoEffect) {
  constexpr int64_t D = 6;
  const Built cfc = build("cfc", "{units: 10, motor_units: 3, wiring: autoncp, sparsity: 0.6}", D);
  const Wiring w = wiring_from_config(cfc.config, D);
  const Tensor x = testing::randn({2, 5, D}, 4);
  const Tensor y = cfc.forward(x);
  {
    Tape tape;
    Var out = cfc.layer->forward(tape, tape.constant(x));
    tape.backward(sum_all(out * tape.constant(testing::randn({2, 5, D}, 5))));
  }
  int64_t masked = 0;
  for (size_t l = 0, in = D; l < w.layers.size(); in = w.layers[l].size(), ++l) {
    const Vec mask = cell_mask(w, l, static_cast<int64_t>(in));
    for (const char* head : {"ff1", "ff2"}) {
      const std::string name = "rnn_cell.layer_" + std::to_string(l) + "." + head + ".weight";
      const Tensor& g = cfc.grad(name);
      Tensor value = cfc.value(name);
      for (size_t j = 0; j < mask.size(); ++j) {
        if (mask[j] != 0) continue;
        ++masked;
        EXPECT_EQ(g.item(static_cast<int64_t>(j)), 0.0) << name << " " << j;
        value.data<double>()[j] += 0.5;
      }
    }
  }
  EXPECT_GT(masked, 20);
  const Tensor y2 = cfc.forward(x);
  EXPECT_EQ(y.to_vector<double>(), y2.to_vector<double>());
}

// ---- ltc (layers.md D.3, D.6) --------------------------------------------------------------------------------

// Masked-out synapses (w, sigma, mu, erev and their sensory counterparts) get exactly zero gradient, and
// changing them changes nothing (D.6.4); an unmasked synapse does get a gradient.
TEST(LtcLayer, MaskedWeightsHaveZeroGradientAndNoEffect) {
  constexpr int64_t D = 5;
  for (const char* overrides : {"{units: 6, wiring: random, sparsity: 0.5}", "{units: 9, motor_units: 2, wiring: autoncp}"}) {
    const Built ltc = build("ltc", overrides, D);
    const Wiring w = wiring_from_config(ltc.config, D);
    const Tensor x = testing::randn({2, 5, D}, 6);
    const Tensor y = ltc.forward(x);
    {
      Tape tape;
      Var out = ltc.layer->forward(tape, tape.constant(x));
      tape.backward(sum_all(out * tape.constant(testing::randn({2, 5, D}, 7))));
    }
    int64_t masked = 0;
    double unmasked_grad = 0;
    auto check = [&](const std::vector<int8_t>& adjacency, const char* prefix) {
      for (const char* p : {"w", "sigma", "mu", "erev"}) {
        const std::string name = std::string("rnn_cell.") + prefix + p;
        Tensor value = ltc.value(name);
        for (size_t j = 0; j < adjacency.size(); ++j) {
          if (adjacency[j] != 0) {
            unmasked_grad = std::max(unmasked_grad, std::abs(ltc.grad(name).item(static_cast<int64_t>(j))));
            continue;
          }
          ++masked;
          EXPECT_EQ(ltc.grad(name).item(static_cast<int64_t>(j)), 0.0) << overrides << " " << name << " " << j;
          value.data<double>()[j] += 0.5;
        }
      }
    };
    check(w.adjacency, "");
    check(w.sensory_adjacency, "sensory_");
    EXPECT_GT(masked, 20) << overrides;
    EXPECT_GT(unmasked_grad, 1e-6) << overrides;
    EXPECT_EQ(y.to_vector<double>(), ltc.forward(x).to_vector<double>()) << overrides;
  }
}

// ---- gradient checks of the variants (the registry-wide check builds the defaults) ------------------------------

TEST(LiquidGradient, Variants) {
  const std::pair<const char*, const char*> variants[] = {
      {"conv", "{conv_bias: true, L_cache: 2}"},
      {"cfc", "{units: 4, backbone_units: 5, mode: no_gate}"},
      {"cfc", "{units: 4, backbone_units: 5, mode: pure}"},
      {"cfc", "{units: 4, backbone_units: 3, backbone_layers: 2, motor_units: 2}"},
      {"cfc", "{units: 8, motor_units: 2, wiring: autoncp}"},
      {"cfc", "{units: 7, motor_units: 2, wiring: ncp, ncp_inter: 3, ncp_command: 2, ncp_sensory_fanout: 2, "
              "ncp_inter_fanout: 1, ncp_recurrent_command_synapses: 2, ncp_motor_fanin: 1}"},
      {"ltc", "{units: 5, wiring: random, sparsity: 0.3, motor_units: 3}"},
      {"ltc", "{units: 8, motor_units: 2, wiring: autoncp}"},
  };
  constexpr int64_t D = 8, T = 5;
  for (const auto& [name, overrides] : variants) {
    const Built b = build(name, overrides, D, T);
    const auto r = testing::gradcheck_module([&](Tape& tape, Var x) { return b.layer->forward(tape, x); },
                                             testing::randn({2, T, D}, 8), *b.params);
    EXPECT_TRUE(r.ok) << name << " " << overrides << ": max error " << r.max_abs_error << "\n" << r.report;
  }
}

// ---- wirings (layers.md D.4, D.6.7) ------------------------------------------------------------------------------

// AutoNCP: the neuron counts of D.4; every inter, command and motor neuron has an incoming synapse and every
// command neuron a motor target; synapses only go sensory -> inter -> command -> {command, motor}.
TEST(Wiring, AutoNcpCountsAndReachability) {
  const NcpSizes n = auto_ncp_sizes(64, 16, 0.5);
  EXPECT_EQ(n.command, 19);
  EXPECT_EQ(n.inter, 29);
  EXPECT_EQ(n.sensory_fanout, 14);
  EXPECT_EQ(n.inter_fanout, 9);
  EXPECT_EQ(n.recurrent_command_synapses, 19);
  EXPECT_EQ(n.motor_fanin, 9);
  constexpr int64_t S = 12;
  const Wiring w = ncp_wiring(n, S, 22222);
  ASSERT_EQ(w.units, 64);
  auto kind = [&](int64_t id) { return id < 16 ? 2 : id < 35 ? 1 : 0; };  // motor 2, command 1, inter 0
  std::vector<int64_t> fanin(64, 0), motor_targets(64, 0);
  for (int64_t s = 0; s < S; ++s) {
    int64_t out = 0;
    for (int64_t t = 0; t < 64; ++t)
      if (w.sensory_synapse(s, t) != 0) {
        EXPECT_EQ(kind(t), 0);
        ++fanin[static_cast<size_t>(t)];
        ++out;
      }
    EXPECT_GE(out, n.sensory_fanout);
  }
  for (int64_t s = 0; s < 64; ++s)
    for (int64_t t = 0; t < 64; ++t) {
      const int8_t a = w.synapse(s, t);
      if (a == 0) continue;
      EXPECT_TRUE(a == 1 || a == -1);
      EXPECT_TRUE((kind(s) == 0 && kind(t) == 1) || (kind(s) == 1 && kind(t) >= 1)) << s << " -> " << t;
      ++fanin[static_cast<size_t>(t)];
      if (kind(t) == 2) ++motor_targets[static_cast<size_t>(s)];
    }
  for (int64_t t = 0; t < 64; ++t) EXPECT_GE(fanin[static_cast<size_t>(t)], 1) << t;
  for (int64_t s = 16; s < 35; ++s) EXPECT_GE(motor_targets[static_cast<size_t>(s)], 1) << s;
  // The same seed gives the same wiring; another seed another one.
  EXPECT_EQ(ncp_wiring(n, S, 22222).adjacency, w.adjacency);
  EXPECT_NE(ncp_wiring(n, S, 1).adjacency, w.adjacency);
}

TEST(Wiring, RandomAndDenseCountsAndPolarity) {
  const Wiring r = random_wiring(10, 10, 4, 0.3, 5);
  EXPECT_EQ(r.synapse_count(), 70);
  EXPECT_EQ(r.sensory_synapse_count(), 28);
  const Wiring d = fully_connected_wiring(30, 30, 4, 1111);
  EXPECT_EQ(d.synapse_count(), 900);
  int64_t inhibitory = 0;
  for (int8_t a : d.adjacency) inhibitory += a < 0;
  EXPECT_NEAR(static_cast<double>(inhibitory) / 900.0, 1.0 / 3.0, 0.06);  // polarity -1 with probability 1/3
}

TEST(Wiring, BadSettingsAreOneLineErrors) {
  auto make = [](const char* layer) { return state_at_128(layer); };
  EXPECT_THROW(make("{type: cfc, wiring: ncps}"), Error);
  EXPECT_THROW(make("{type: cfc, wiring: autoncp}"), Error);                    // needs motor_units
  EXPECT_THROW(make("{type: ltc, wiring: autoncp, units: 10, motor_units: 8}"), Error);  // motor >= units - 2
  EXPECT_THROW(make("{type: ltc, wiring: ncp, units: 10, motor_units: 2}"), Error);      // sizes do not add up
  EXPECT_THROW(make("{type: cfc, mode: closed}"), Error);
  EXPECT_THROW(make("{type: ltc, ode_unfolds: 0}"), Error);
  EXPECT_THROW(make("{type: conv, L_cache: 0}"), Error);
  try {
    make("{type: ltc, wiring: random, sparsity: 1.5}");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sparsity"), std::string::npos) << e.what();
  }
}

// size_options give other unit counts / kernel sizes, each a valid layer.
TEST(LiquidSizeOptions, OtherValidSizes) {
  const BuildContext ctx{128, 127, LinearInit::pytorch_default};
  for (const char* name : {"conv", "cfc", "ltc"}) {
    const LayerEntry& e = builtin_layers().find(name);
    ASSERT_NE(e.size_options, nullptr) << name;
    ASSERT_NE(e.mixing_flops, nullptr) << name;
    const config::Value base = builtin_layers().resolve(name, config::Value::map(), 128);
    const auto options = e.size_options(base, ctx);
    EXPECT_GE(options.size(), 3u) << name;
    for (const config::Value& o : options) {
      EXPECT_NE(o, base) << name;
      EXPECT_GT(e.state(o, ctx).floats, 0) << name;
    }
  }
}

}  // namespace
}  // namespace mad::models
