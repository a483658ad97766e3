// Fuzz target: the .npy reader of data directories (`mad train --data DIR`).
#include "fuzz/fuzz_input.h"
#include "tasks/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mad::fuzz::InputFile input(data, size, "input.npy");
  return mad::fuzz::rejecting([&] { mad::tasks::read_npy(input.path()); });
}
