// The model whose checkpoints the checkpoint fuzz target reads, shared with make_checkpoint_seed: as
// small as a real model gets (swiglu, dim 4: about 400 parameters), since every input's cost is
// proportional to its parameter bytes (checksum, finiteness checks).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/arch_spec.h"
#include "models/backbone.h"

namespace mad::fuzz {

inline std::unique_ptr<models::Model> checkpoint_model() {
  auto model = std::make_unique<models::Model>(models::arch_from_names(std::vector<std::string>{"swiglu"}, 4),
                                               models::BackboneKind::language_model, 8, 15);
  model->initialize(1);
  return model;
}

}  // namespace mad::fuzz
