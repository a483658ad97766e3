// Writes the seed of the checkpoint fuzz target: a checkpoint of the model of fuzz/checkpoint_model.h
// without its 32-byte SHA-256 trailer (the target appends a correct one; see there).
// Usage: make_checkpoint_seed OUT
#include <filesystem>
#include <string>

#include "config/value.h"
#include "fuzz/checkpoint_model.h"
#include "training/checkpoint.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string out = argv[1];
  const auto model = mad::fuzz::checkpoint_model();
  mad::save_checkpoint(out, model->params(), mad::TrainState{}, mad::config::Value());
  std::filesystem::resize_file(out, std::filesystem::file_size(out) - 32);
  return 0;
}
