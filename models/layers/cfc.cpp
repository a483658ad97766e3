// Closed-form continuous-time recurrence `cfc` (shared/docs/layers.md D.1-D.2; ncps torch CfCCell and
// WiredCfCCell) as a sequence mixer of width D. A cell over `in` inputs and N units, per token (Δt = 1):
//
//   ξ = [u_t ; h_{t-1}]                       input first; h_{-1} = 0
//   β = lecun(W_b ξ + c_b) (then lecun(W β + c) for more backbone layers), or β = ξ without a backbone
//   a1 = W_1 β + c_1,  a2 = W_2 β + c_2,  ta = W_a β + c_a,  tb = W_b' β + c_b'        (ff1, ff2, time_a, time_b)
//   s = σ(ta Δt + tb)
//   default:  h_t = tanh(a1) (1 - s) + s tanh(a2)
//   no_gate:  h_t = tanh(a1) + s tanh(a2)
//   pure:     h_t = A - A exp(-Δt (|w_τ| + |a1|)) a1           (ff1 only; A, w_τ [1, N] learnable)
//   lecun(z) = 1.7159 tanh(0.666 z)
//
// wiring: dense is one such cell over u_t = x_t with the backbone (ncps `CfC(D, units)`). random, ncp and
// autoncp are the wired CfC: one cell per wiring layer (NCP: inter, command, motor), no backbone, layer l
// reading layer l-1's new state at the same step; ff1 and ff2 weights are multiplied by a fixed 0/1 mask
// whose input columns are |sensory adjacency| (layer 0) or |adjacency| from the previous layer, and whose
// recurrent columns are all ones; time_a and time_b are dense and polarities are unused (layers.md D-F5).
// The layer's output is out_proj (motor neurons -> D, with bias) of the motor neurons at every step:
// the first motor_units units of a single cell, the motor layer of an NCP.
//
// Implemented with the tape's existing ops, one small group per token (about 20 ops of [B, N] per cell and
// step): at T = 128 that is cheap next to the weight products, and the backward is exact by construction.
// The input half of the first product (W u_t for every t) is one [B*T, in] matmul before the loop.
// Initialisation as ncps: xavier_uniform on every weight matrix (also A and w_τ), PyTorch's default
// U(+-1/sqrt(fan_in)) on the biases.
#include <cmath>

#include "models/layers/wiring.h"
#include "models/registry.h"

namespace mad::models {
namespace {

enum class CfcMode { standard, no_gate, pure };

CfcMode cfc_mode(const config::Value& c) {
  const std::string m = c.get<std::string>("mode");
  MAD_CHECK(m == "default" || m == "no_gate" || m == "pure", "{}: mode must be default, no_gate or pure, got '{}'",
            c.at("mode").where(), m);
  return m == "default" ? CfcMode::standard : m == "no_gate" ? CfcMode::no_gate : CfcMode::pure;
}

Var lecun_tanh(Var z) { return 1.7159 * tanh(0.666 * z); }

// One CfC cell (a Linear's weight and bias declared the ncps way).
class CfcCell {
 public:
  CfcCell() = default;
  // mask: [units, in + units] for ff1 and ff2, or empty (dense).
  CfcCell(const ParamScope& s, int64_t in, int64_t units, CfcMode mode, int64_t backbone_units, int64_t backbone_layers,
          std::vector<double> mask)
      : in_(in), units_(units), mode_(mode), mask_(std::move(mask)) {
    const int64_t cat = in + units;
    int64_t width = cat;
    for (int64_t l = 0; l < backbone_layers; ++l) {
      backbone_.push_back(linear(s.sub("backbone").sub(static_cast<int>(2 * l)), width, backbone_units));
      width = backbone_units;
    }
    heads_.push_back(linear(s.sub("ff1"), width, units));
    if (mode == CfcMode::pure) {
      w_tau_ = s.param("w_tau", {1, units}, Init::xavier_uniform());
      A_ = s.param("A", {1, units}, Init::xavier_uniform());
    } else {
      heads_.push_back(linear(s.sub("ff2"), width, units));
      heads_.push_back(linear(s.sub("time_a"), width, units));
      heads_.push_back(linear(s.sub("time_b"), width, units));
    }
  }

  int64_t in() const { return in_; }
  int64_t units() const { return units_; }

  // The per-forward views of the parameters; call once before the steps.
  void prepare(Tape& tape, DType dtype) const {
    Var first_w, first_b;  // the product over ξ = [u ; h]: [F, in + units], [F]
    prepared_.rest.clear();
    Var hw[4], hb[4];
    for (size_t k = 0; k < heads_.size(); ++k) {
      hw[k] = heads_[k].weight.on(tape);
      hb[k] = heads_[k].bias.on(tape);
    }
    if (!mask_.empty()) {  // wired: no backbone, ff1 and ff2 masked
      Var m = constant_from(tape, mask_, Shape{units_, in_ + units_}, dtype);
      hw[0] = hw[0] * m;

      if (heads_.size() > 1) hw[1] = hw[1] * m;
    }
    const auto n = static_cast<size_t>(heads_.size());
    Var head_w = n == 1 ? hw[0] : concat(std::span<const Var>(hw, n), 0);  // [H*units, head_in]
    Var head_b = n == 1 ? hb[0] : concat(std::span<const Var>(hb, n), 0);  // [H*units]
    if (backbone_.empty()) {
      first_w = head_w;
      first_b = head_b;
    } else {
      first_w = backbone_[0].weight.on(tape);
      first_b = backbone_[0].bias.on(tape);
      for (size_t l = 1; l < backbone_.size(); ++l)
        prepared_.rest.push_back({backbone_[l].weight.on(tape), backbone_[l].bias.on(tape)});
      prepared_.head_w = head_w;
      prepared_.head_b = head_b;
    }
    prepared_.in_w = slice(first_w, 1, 0, in_);
    prepared_.rec_w = slice(first_w, 1, in_, in_ + units_);
    prepared_.first_b = first_b;
    if (mode_ == CfcMode::pure) {
      prepared_.w_tau = abs(w_tau_.on(tape));
      prepared_.A = A_.on(tape);
    }
  }

  // The input part of the first product with its bias: u [..., in] -> [..., F].
  Var input_part(Var u) const { return matmul(u, prepared_.in_w, false, true) + prepared_.first_b; }

  // One step: z_in [B, F] from input_part, h [B, units] (undefined at t = 0: the zero state) -> h_t.
  Var step(Var z_in, Var h) const {
    Var z = h.defined() ? z_in + matmul(h, prepared_.rec_w, false, true) : z_in;
    Var heads = z;
    if (!backbone_.empty()) {
      Var beta = lecun_tanh(z);
      for (const auto& [w, b] : prepared_.rest) beta = lecun_tanh(matmul(beta, w, false, true) + b);
      heads = matmul(beta, prepared_.head_w, false, true) + prepared_.head_b;
    }
    if (mode_ == CfcMode::pure) {
      // A - A e^{-(|w_τ| + |a1|)} a1 with Δt = 1
      Var a1 = heads;
      return prepared_.A - prepared_.A * exp(-(prepared_.w_tau + abs(a1))) * a1;
    }
    const int64_t N = units_;
    Var g = tanh(slice(heads, 1, 0, N)), f2 = tanh(slice(heads, 1, N, 2 * N));
    Var s = sigmoid(slice(heads, 1, 2 * N, 3 * N) + slice(heads, 1, 3 * N, 4 * N));  // σ(ta Δt + tb), Δt = 1
    if (mode_ == CfcMode::no_gate) return g + s * f2;
    return g + s * (f2 - g);  // g (1 - s) + s f2
  }

 private:
  struct LinearParams {
    Param weight, bias;
  };
  static LinearParams linear(const ParamScope& s, int64_t in, int64_t out) {
    return {s.param("weight", {out, in}, Init::xavier_uniform()), s.param("bias", {out}, Init::uniform_fan_in(in))};
  }
  struct Prepared {
    Var in_w, rec_w, first_b, head_w, head_b, w_tau, A;
    std::vector<std::pair<Var, Var>> rest;  // backbone layers after the first
  };

  int64_t in_ = 0, units_ = 0;
  CfcMode mode_ = CfcMode::standard;
  std::vector<double> mask_;
  std::vector<LinearParams> backbone_, heads_;
  Param w_tau_, A_;
  // Rebuilt by every prepare() (capacity kept, so steady-state steps do not allocate).
  mutable Prepared prepared_;
};

struct CfcShape {
  int64_t dim, units, motor;
};

CfcShape cfc_shape(const config::Value& c) {
  return {c.get<int64_t>("dim"), c.get<int64_t>("units"), wiring_motor(c)};
}

class Cfc : public Layer {
 public:
  Cfc(const config::Value& c, const ParamScope& s, const BuildContext& ctx) : shape_(cfc_shape(c)) {
    const CfcMode mode = cfc_mode(c);
    const int64_t D = shape_.dim;
    if (c.get<std::string>("wiring") == "dense") {
      const int64_t bb_layers = c.get<int64_t>("backbone_layers"), bb_units = c.get<int64_t>("backbone_units");
      MAD_CHECK(bb_layers >= 0, "{}: backbone_layers must be >= 0, got {}", c.at("backbone_layers").where(), bb_layers);
      MAD_CHECK(bb_layers == 0 || bb_units >= 1, "{}: backbone_units must be >= 1, got {}",
                c.at("backbone_units").where(), bb_units);
      cells_.emplace_back(s.sub("rnn_cell"), D, shape_.units, mode, bb_units, bb_layers, std::vector<double>{});
    } else {
      const Wiring w = wiring_from_config(c, D);
      int64_t in = D;
      const std::vector<int64_t>* previous = nullptr;
      for (size_t l = 0; l < w.layers.size(); ++l) {
        const std::vector<int64_t>& neurons = w.layers[l];
        const auto N = static_cast<int64_t>(neurons.size());
        std::vector<double> mask(static_cast<size_t>(N * (in + N)), 1.0);  // recurrent columns stay 1
        for (int64_t j = 0; j < N; ++j)
          for (int64_t i = 0; i < in; ++i) {
            const int64_t target = neurons[static_cast<size_t>(j)];
            const int8_t a = previous ? w.synapse((*previous)[static_cast<size_t>(i)], target) : w.sensory_synapse(i, target);
            mask[static_cast<size_t>(j * (in + N) + i)] = a != 0 ? 1.0 : 0.0;
          }
        cells_.emplace_back(s.sub("rnn_cell").sub("layer_" + std::to_string(l)), in, N, mode, 0, 0, std::move(mask));
        previous = &neurons;
        in = N;
      }
    }
    MAD_CHECK(cells_.size() == 1 || shape_.motor == cells_.back().units(),
              "cfc: the last wiring layer has {} neurons, motor_units is {}", cells_.back().units(), shape_.motor);
    out_proj_ = Linear(s.sub("out_proj"), shape_.motor, D, true, ctx);
    outputs_.reserve(static_cast<size_t>(ctx.seq_len));
    states_.resize(cells_.size());
  }

  // x [B, T, D] -> [B, T, D]
  Var forward(Tape& tape, Var x) const override {
    const int64_t B = x.dim(0), T = x.dim(1), M = shape_.motor;
    for (const CfcCell& cell : cells_) cell.prepare(tape, x.dtype());
    // [T, B, F]: step t's input part is a contiguous view.
    Var first_in = permute(cells_[0].input_part(x), {1, 0, 2});
    const int64_t F = first_in.dim(2);
    outputs_.clear();
    for (Var& h : states_) h = Var();  // the zero state
    for (int64_t t = 0; t < T; ++t) {
      Var u;  // the previous cell's new state (wired layers)
      for (size_t l = 0; l < cells_.size(); ++l) {
        Var z_in = l == 0 ? reshape(slice(first_in, 0, t, t + 1), {B, F}) : cells_[l].input_part(u);
        states_[l] = cells_[l].step(z_in, states_[l]);
        u = states_[l];
      }
      Var motor = u.dim(1) == M ? u : slice(u, 1, 0, M);
      outputs_.push_back(reshape(motor, {1, B, M}));
    }
    Var y = permute(concat(std::span<const Var>(outputs_), 0), {1, 0, 2});  // [B, T, M]
    return out_proj_(tape, y);
  }

 private:
  CfcShape shape_;
  std::vector<CfcCell> cells_;
  Linear out_proj_;
  // Per-forward scratch lists, reused (steady-state steps do not allocate).
  mutable std::vector<Var> outputs_, states_;
};

std::unique_ptr<Layer> build(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<Cfc>(c, s, ctx);
}

// One float per neuron (layers.md E); the wired layers' states together are `units`.
StateSize state(const config::Value& c, const BuildContext&) { return {cfc_shape(c).units, true}; }

// Elementwise work per token, one flop per operation (a tanh or sigmoid counted as one): LeCun tanh (3 per
// backbone unit and layer), and per unit the head nonlinearities and the blend (7; pure mode 6). Weight
// products (backbone, heads, out_proj) are counted from the parameters.
double mixing_flops(const config::Value& c, const BuildContext&) {
  const CfcShape s = cfc_shape(c);
  const bool dense = c.get<std::string>("wiring") == "dense";
  const double backbone = dense ? 3.0 * static_cast<double>(c.get<int64_t>("backbone_layers") * c.get<int64_t>("backbone_units")) : 0.0;
  const double per_unit = cfc_mode(c) == CfcMode::pure ? 6.0 : 7.0;
  return backbone + per_unit * static_cast<double>(s.units);
}

// units 16 .. 512 (powers of two); autoncp keeps motor_units < units - 2, explicit ncp sizes have no options.
std::vector<config::Value> size_options(const config::Value& c, const BuildContext&) {
  std::vector<config::Value> options;
  const std::string wiring = c.get<std::string>("wiring");
  if (wiring == "ncp") return options;
  // State is `units` floats, so MAD's 2,048 floats per layer takes 2,048 units, and a hybrid with one CfC
  // layer needs all 4,096 in it: iso-state comparisons make liquid layers large. Steps of 8 to 128, then 64.
  for (int64_t units = 8; units <= 4096; units += units < 128 ? 8 : 64) {
    if (units == c.get<int64_t>("units")) continue;
    if (c.get<int64_t>("motor_units") > 0 &&
        (wiring == "autoncp" ? c.get<int64_t>("motor_units") >= units - 2 : c.get<int64_t>("motor_units") > units))
      continue;
    config::Value o = c;
    o.set("units", config::Value(units));
    options.push_back(std::move(o));
  }
  return options;
}

}  // namespace

MAD_REGISTER_LAYERS(r) {
  r.add({"cfc", "liquid", true, "closed-form continuous-time (CfC) recurrence, 128 units, backbone 128", &build,
         &state, &mixing_flops, &size_options});
}

}  // namespace mad::models
