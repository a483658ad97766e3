// The interface the trainer sees a model through: token ids in, logits out, parameters in one block.
// models::Model implements it; training/ depends only on this (never on models/).
#pragma once

#include "core/params.h"
#include "core/tape.h"

namespace mad {

class Module {
 public:
  virtual ~Module() = default;
  // tokens [B, T] int32 -> logits [B, T, V]
  virtual Var logits(Tape& tape, const Tensor& tokens) const = 0;
  virtual ParamStore& params() = 0;
  virtual int64_t vocab_size() const = 0;
};

}  // namespace mad
