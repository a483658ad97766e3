// Fuzz target: the architecture spec loader, as `mad describe --arch FILE` runs it: YAML text, then the
// spec (layer registry, defaults, wiring graphs), then the model's parameter declarations and its
// description, which must stay within the memory budget and never allocate the parameters.
#include "config/yaml.h"
#include "fuzz/fuzz_input.h"
#include "models/arch_spec.h"
#include "models/backbone.h"
#include "models/describe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return mad::fuzz::rejecting([&] {
    const mad::config::Value document = mad::config::load_string(mad::fuzz::as_text(data, size), "fuzz.yml");
    const mad::models::ArchSpec spec = mad::models::arch_from_config(document);
    mad::models::arch_summary(spec);
    const mad::models::Model model(spec, mad::models::BackboneKind::language_model, 16, 32);
    mad::models::describe(model);
  });
}
