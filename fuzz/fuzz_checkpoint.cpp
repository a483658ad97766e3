// Fuzz target: the checkpoint reader (`mad train --resume`), into a small model's parameters.
//
// A mutated file nearly always fails the SHA-256 check, which would keep the fuzzer out of the header
// and payload parsing behind it. So each input is read twice: as it is (the checksum must reject it),
// and with a correct checksum appended (the input is then taken as header and payload); the seeds in
// tests/fuzz/corpus/checkpoint/ are checkpoints without their 32-byte trailer.
#include "config/sha256.h"
#include "fuzz/fuzz_input.h"
#include "fuzz/checkpoint_model.h"
#include "training/checkpoint.h"

#include <vector>

namespace {

mad::models::Model& small_model() {
  static const std::unique_ptr<mad::models::Model> model = mad::fuzz::checkpoint_model();
  return *model;
}

void read_checkpoint(const std::string& path) {
  mad::fuzz::rejecting([&] { mad::read_checkpoint_meta(path); });
  mad::fuzz::rejecting([&] { mad::load_checkpoint(path, small_model().params()); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  read_checkpoint(mad::fuzz::InputFile(data, size, "as-is.ckpt").path());
  std::vector<uint8_t> sealed(data, data + size);
  mad::config::Sha256 hash;
  hash.update(mad::fuzz::as_text(data, size));
  const auto digest = hash.finish();
  sealed.insert(sealed.end(), digest.begin(), digest.end());
  read_checkpoint(mad::fuzz::InputFile(sealed.data(), sealed.size(), "sealed.ckpt").path());
  return 0;
}
