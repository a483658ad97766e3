// Atomic blocks: the nodes of a wiring graph (models/wiring_graph.h, docs/graphs.md). A block reads one or more
// tensors [B, T, C_i] of any widths and returns one or more [B, T, C'_j]; its registry entry (family
// "block") carries a BlockSpec with the input count and the output widths. The wiring resolves each node's
// configuration with the widths it reads as `in_widths`, so a block's build, state and FLOP functions see
// them through the configuration like any other setting.
#pragma once

#include <span>
#include <vector>

#include "models/registry.h"

namespace mad::models {

class Block : public Layer {
 public:
  // in: one [B, T, C_i] per input; out: one slot per output width of the BlockSpec, filled by apply.
  virtual void apply(Tape& tape, std::span<const Var> in, std::span<Var> out) const = 0;
  // A block run as a one-input, one-output map (the wiring calls apply).
  Var forward(Tape& tape, Var x) const override {
    Var y;
    apply(tape, std::span<const Var>(&x, 1), std::span<Var>(&y, 1));
    return y;
  }
};

// The widths a resolved block configuration reads (its `in_widths`).
inline std::vector<int64_t> block_inputs(const config::Value& c) { return c.get<std::vector<int64_t>>("in_widths"); }

template <typename B>
std::unique_ptr<Layer> build_block(const config::Value& c, const ParamScope& s, const BuildContext& ctx) {
  return std::make_unique<B>(c, s, ctx);
}

inline StateSize stateless(const config::Value&, const BuildContext&) { return {0, true}; }

// Registers a block: its entry (family "block", no size options) with `spec`, which must outlive the registry.
inline void add_block(LayerRegistry& r, const char* name, const char* summary,
                      std::unique_ptr<Layer> (*build)(const config::Value&, const ParamScope&, const BuildContext&),
                      const BlockSpec* spec, StateSize (*state)(const config::Value&, const BuildContext&) = &stateless,
                      double (*flops)(const config::Value&, const BuildContext&) = nullptr) {
  LayerEntry e;
  e.name = name;
  e.family = "block";
  e.summary = summary;
  e.build = build;
  e.state = state;
  e.mixing_flops = flops;
  e.block = spec;
  r.add(std::move(e));
}

// All inputs of an elementwise block have one width; returns it.
int64_t same_widths(std::span<const int64_t> in, const char* block);

}  // namespace mad::models
