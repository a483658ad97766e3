// The xLSTM family's registration, split by layer file: models/layers/mlstm.cpp and slstm.cpp. Both are
// reached through register_xlstm_layers (models/registry.h), defined in mlstm.cpp.
#pragma once

#include "models/registry.h"

namespace mad::models {

void register_mlstm_layers(LayerRegistry& registry);  // mlstm, mlstm-block
void register_slstm_layers(LayerRegistry& registry);  // slstm

}  // namespace mad::models
