// The wiring entry (docs/graphs.md, "Wiring graphs"): a layer written as a graph of named tensors.
//
//   {type: wiring, input: x, output: y, wrap: true,
//    nodes: {name: {type: BLOCK_OR_LAYER, in: TENSOR | [TENSOR, ...], out: [NAME, ...], ...settings}, ...}}
//
// `input` names the entry's input [B, T, D]; every node reads the tensors named by `in` and produces one
// tensor called by its name, or several (a split) called name.0, name.1, ... unless `out` names them. A node
// is an atomic block (family "block": linear, split, concat, causal-conv, activation, add, mul, scale, norm,
// mlstm-core, slstm-core, ...; any widths) or any layer, group or brick use (one input of width D, output D).
// `output` names the tensor returned, of width D. The nodes run in dependency order (ties in file order);
// parameters live under nodes.<name>.*. The entry maps [B, T, D] -> [B, T, D] and is wrapped by the backbone
// like any layer (x + wiring(norm(x))), or, with wrap: false at the top level, receives the residual stream
// itself and returns the next one (its own norms and residual adds, as LFM2's decoder layer).
//
// Resolution checks the graph and sets each node's `in` to a list and its `in_widths` to the widths it
// reads: a cycle, an unknown tensor, a width mismatch, a node whose result is never read, a missing or
// mis-sized output are one-line errors naming the node, the key and file:line.
#pragma once

#include "models/graph.h"

namespace mad::models {

// Checks the wiring settings of a resolved `wiring` configuration and resolves its nodes in place.
void resolve_wiring(config::Value& resolved, int64_t dim, const LayerRegistry& registry,
                    const BrickDefinitions* bricks);

// A resolved node of a wiring without the wiring's own keys (in, out): what its registry functions read.
config::Value node_without_wiring_keys(const config::Value& node);

// True when a resolved node (a wiring, or a brick use of one) asks the backbone not to wrap it.
bool brings_own_residual(const config::Value& node);

}  // namespace mad::models
