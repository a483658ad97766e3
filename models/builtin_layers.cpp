// The one list of built-in layers. Adding a layer: see docs/adding-a-layer.md.
#include "models/registry.h"

namespace mad::models {

void register_builtin_layers(LayerRegistry& registry) {
  register_mlp_layers(registry);        // mlp, swiglu
  register_attention_layers(registry);  // attention, mh-attention, sliding-attention, mh-sliding-attention
  register_xlstm_layers(registry);      // mlstm, mlstm-block, slstm
  register_linear_attention_layers(registry);  // linear-attention, mh-linear-attention
  register_gated_linear_attention_layers(registry);  // gated-linear-attention, mh-gated-linear-attention
  register_hyena_layers(registry);  // hyena, mh-hyena, hyena-experts
  register_mamba_layers(registry);  // mamba
  register_moe_layers(registry);    // moe-mlp
  register_rwkv_layers(registry);   // rwkv5/6-time-mixer, rwkv5/6-channel-mixer
  register_short_conv_layers(registry);  // conv (LFM2)
  register_cfc_layers(registry);         // cfc
  register_ltc_layers(registry);         // ltc
  register_graph_layers(registry);  // parallel, sequential, brick (models/graph.h)
  register_mlstm_preup_layers(registry);  // mlstm-preup-block
  register_block_layers(registry);   // wiring blocks: linear, split, concat, causal-conv, ... (models/blocks/)
  register_wiring_layers(registry);  // wiring (models/wiring_graph.h)
}

}  // namespace mad::models
