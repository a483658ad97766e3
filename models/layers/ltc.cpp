// Liquid time-constant network `ltc` (shared/docs/layers.md D.3; ncps torch LTCCell) as a sequence mixer of
// width D, x [B, T, D]:
//
//   I = x * input_w + input_b                     the "affine" input mapping: D sensory inputs
//   v_t = LTC cell(I_t; v_{t-1}), v_{-1} = 0       N neurons, ode_unfolds solver sub-steps per token (core/ops_liquid.h)
//   out = out_proj(v_t[motor neurons])             motor neurons = ids 0 .. motor_units - 1; D, with bias
//
// Synapses follow the wiring (models/layers/wiring.h): w and sensory_w are multiplied by the fixed masks
// |adjacency| and |sensory adjacency|, and the reversal potentials erev, sensory_erev start at the wiring's
// polarities (learnable; 0 where there is no synapse, where they also receive no gradient). w, sensory_w,
// cm and gleak pass through softplus at use time (ncps `implicit_param_constraints=True`, the LTC
// wrapper's default), so the raw parameters are unconstrained. ncps's affine output mapping is left out:
// out_proj subsumes it.
// Initialisation as ncps (uniform, on the raw parameters): gleak [0.001, 1], vleak [-0.2, 0.2], cm [0.4, 0.6],
// w [0.001, 1], sigma [3, 8], mu [0.3, 0.8], the sensory ones alike; input_w 1, input_b 0.
//
// The cell is one fused op with a hand-written backward (kernels/ltc.h): every sub-step evaluates N^2
// synapse sigmoids, 6 * 128 = 768 sub-steps per sequence at T = 128, which as tape ops would be ~10 nodes
// of [B, N, N] per sub-step (gigabytes of saved activations); the kernel keeps only the N-float state per
// sub-step and recomputes the synapses in backward.
#include "core/ops_liquid.h"
#include "models/layers/wiring.h"
#include "models/registry.h"

namespace mad::models {
namespace {

struct LtcShape {
  int64_t dim, units, motor, unfolds;
};

LtcShape ltc_shape(const config::Value& c) {
  LtcShape s{c.get<int64_t>("dim"), c.get<int64_t>("units"), wiring_motor(c), c.get<int64_t>("ode_unfolds")};
  MAD_CHECK(s.unfolds >= 1, "{}: ode_unfolds must be >= 1, got {}", c.at("ode_unfolds").where(), s.unfolds);
  return s;
}

std::vector<double> absolute(const std::vector<int8_t>& a) {
  std::vector<double> m(a.size());
  for (size_t j = 0; j < a.size(); ++j) m[j] = a[j] != 0 ? 1.0 : 0.0;
  return m;
}

std::vector<double> signs(const std::vector<int8_t>& a) { return std::vector<double>(a.begin(), a.end()); }

class Ltc : public Layer {
 public:
  Ltc(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(ltc_shape(c)) {
    const int64_t D = shape_.dim, N = shape_.units;
    const Wiring w = wiring_from_config(c, D);
    mask_ = absolute(w.adjacency);
    sensory_mask_ = absolute(w.sensory_adjacency);
    const ParamScope cell = s.sub("rnn_cell");
    gleak_ = cell.param("gleak", {N}, Init::uniform(0.001, 1.0));
    vleak_ = cell.param("vleak", {N}, Init::uniform(-0.2, 0.2));
    cm_ = cell.param("cm", {N}, Init::uniform(0.4, 0.6));
    sigma_ = cell.param("sigma", {N, N}, Init::uniform(3.0, 8.0));
    mu_ = cell.param("mu", {N, N}, Init::uniform(0.3, 0.8));
    w_ = cell.param("w", {N, N}, Init::uniform(0.001, 1.0));
    erev_ = cell.param("erev", {N, N}, Init::values(signs(w.adjacency)));
    sensory_sigma_ = cell.param("sensory_sigma", {D, N}, Init::uniform(3.0, 8.0));
    sensory_mu_ = cell.param("sensory_mu", {D, N}, Init::uniform(0.3, 0.8));
    sensory_w_ = cell.param("sensory_w", {D, N}, Init::uniform(0.001, 1.0));
    sensory_erev_ = cell.param("sensory_erev", {D, N}, Init::values(signs(w.sensory_adjacency)));
    input_w_ = cell.param("input_w", {D}, Init::ones());
    input_b_ = cell.param("input_b", {D}, Init::zeros());
    out_proj_ = Linear(s.sub("out_proj"), shape_.motor, D, true, ctx);
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t D = shape_.dim, N = shape_.units;
    Var mask = constant_from(tape, mask_, Shape{N, N}, x.dtype());
    Var sensory_mask = constant_from(tape, sensory_mask_, Shape{D, N}, x.dtype());
    const LtcParamVars p{softplus(gleak_.on(tape)),
                         vleak_.on(tape),
                         softplus(cm_.on(tape)),
                         softplus(w_.on(tape)) * mask,
                         sigma_.on(tape),
                         mu_.on(tape),
                         erev_.on(tape),
                         softplus(sensory_w_.on(tape)) * sensory_mask,
                         sensory_sigma_.on(tape),
                         sensory_mu_.on(tape),
                         sensory_erev_.on(tape)};
    Var v = ltc(x * input_w_.on(tape) + input_b_.on(tape), p, shape_.unfolds);  // [B, T, N]
    return out_proj_(tape, shape_.motor == N ? v : slice(v, 2, 0, shape_.motor));
  }

 private:
  LtcShape shape_;
  std::vector<double> mask_, sensory_mask_;  // [N, N], [D, N]
  Param gleak_, vleak_, cm_, sigma_, mu_, w_, erev_, sensory_sigma_, sensory_mu_, sensory_w_, sensory_erev_;
  Param input_w_, input_b_;
  Linear out_proj_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Ltc>(c, s, ctx);
}

// One potential per neuron (layers.md E); the sub-steps carry nothing else.
StateSize state(const config::Value& c, const BuildContext&) { return {ltc_shape(c).units, true}; }

// Per token: every synapse evaluation costs about 7 flops (difference, scale, sigmoid, weight, reversal
// potential, two sums), N^2 of them per sub-step and D * N sensory ones per token; about 6 per neuron and
// sub-step for the update. (The parameter-based count of models/describe.h adds 2 per parameter on top.)
double mixing_flops(const config::Value& c, const BuildContext&) {
  const LtcShape s = ltc_shape(c);
  const auto N = static_cast<double>(s.units), U = static_cast<double>(s.unfolds), D = static_cast<double>(s.dim);
  return 7.0 * (U * N * N + D * N) + 6.0 * U * N;
}

// units 8 .. 128 (powers of two); autoncp keeps motor_units < units - 2, explicit ncp sizes have no options.
std::vector<config::Value> size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> options;
  const std::string wiring = c.get<std::string>("wiring");
  if (wiring == "ncp") return options;
  const int64_t motor = c.get<int64_t>("motor_units");
  // State is `units` floats, up to MAD's 2,048 floats per layer (see cfc.cpp): steps of 8 to 128, then of 128
  // (building a wired LTC costs N^2, and normalisation builds every option once).
  for (int64_t units = 8; units <= 2048; units += units < 128 ? 8 : 128) {
    if (units == c.get<int64_t>("units")) continue;
    if (motor > 0 && (wiring == "autoncp" ? motor >= units - 2 : motor > units)) continue;
    config::Value o = c;
    o.set("units", config::Value(units));
    options.push_back(std::move(o));
  }
  return options;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"ltc", "liquid", true, "liquid time-constant (LTC) neurons, 32 units, 6 ODE sub-steps", &build, &state,
         &mixing_flops, &size_options});
}

}  // namespace mad::models
