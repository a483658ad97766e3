// Fuzz target: the sweep spec loader, as `mad sweep plan SPEC` reads it. Relative architecture files are
// looked up in a directory that does not exist, so that inputs cannot reach the files of the checkout.
#include "config/yaml.h"
#include "fuzz/fuzz_input.h"
#include "sweeps/sweep_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mad::fuzz::rejecting([&] {
    const mad::config::Value document = mad::config::load_string(mad::fuzz::as_text(data, size), "fuzz-sweep.yml");
    mad::sweeps::sweep_from_config(document, "/nonexistent-mad-fuzz-dir");
  });
}
