#include "apps/commands.h"

#include <CLI/CLI.hpp>

namespace mad::cli {

void register_commands(CLI::App& app) {
  setup_demo(app);
  setup_tasks(app);
  setup_data(app);
  setup_layers(app);
  setup_describe(app);
  setup_normalize(app);
  setup_train(app);
  setup_scores(app);
  setup_compare(app);
  setup_report(app);
  setup_runs(app);
  setup_results(app);
  setup_sweep(app);
  setup_bench(app);
}

}  // namespace mad::cli
