#include "apps/commands.h"

#include <CLI/CLI.hpp>

namespace mad::cli {

void register_commands(CLI::App& app) {
  setup_demo(app);
}

}  // namespace mad::cli
