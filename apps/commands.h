// Registration of every `mad` subcommand. Each cmd_*.cpp defines one `setup_*` function; the list in
// commands.cpp is the only place that names them all.
#pragma once

namespace CLI {
class App;
}

namespace mad::cli {

void register_commands(CLI::App& app);

void setup_demo(CLI::App& app);
void setup_tasks(CLI::App& app);
void setup_data(CLI::App& app);
void setup_layers(CLI::App& app);
void setup_train(CLI::App& app);
void setup_scores(CLI::App& app);
void setup_compare(CLI::App& app);
void setup_report(CLI::App& app);
void setup_runs(CLI::App& app);
void setup_results(CLI::App& app);

}  // namespace mad::cli
