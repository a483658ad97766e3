// The xLSTM family's registration, split by layer file: models/layers/mlstm.cpp (and more to come),
// reached through register_xlstm_layers (models/registry.h), defined in mlstm.cpp.
#pragma once

#include "models/registry.h"

namespace mad::models {

void register_mlstm_layers(LayerRegistry& registry);  // mlstm, mlstm-block

}  // namespace mad::models
