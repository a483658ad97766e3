// The op table's generated parts: names and backward dispatch, both from MAD_OP_LIST.
#include "core/tape.h"

namespace mad {

#define MAD_DECLARE_BACKWARD(name) void backward_##name(Tape&, const Node&);
MAD_OP_LIST(MAD_DECLARE_BACKWARD)
#undef MAD_DECLARE_BACKWARD

namespace {
constexpr const char* kNames[] = {
#define MAD_OP_NAME(name) #name,
    MAD_OP_LIST(MAD_OP_NAME)
#undef MAD_OP_NAME
};
constexpr BackwardFn kBackward[] = {
#define MAD_OP_BACKWARD(name) &backward_##name,
    MAD_OP_LIST(MAD_OP_BACKWARD)
#undef MAD_OP_BACKWARD
};
static_assert(std::size(kNames) == kNumOps && std::size(kBackward) == kNumOps, "op table out of sync");
}  // namespace

const char* op_name(OpId op) { return kNames[static_cast<int>(op)]; }
BackwardFn op_backward(OpId op) { return kBackward[static_cast<int>(op)]; }

}  // namespace mad
