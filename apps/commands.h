// Registration of every `mad` subcommand. Each cmd_*.cpp defines one `setup_*` function; the list in
// commands.cpp is the only place that names them all.
#pragma once

namespace CLI {
class App;
}

namespace mad::cli {

// Thrown by a command that has already said what happened and ends with a particular exit status
// (e.g. 130 after Ctrl-C); main returns `code` without printing anything more.
struct ExitStatus {
  int code = 1;
};

void register_commands(CLI::App& app);

void setup_demo(CLI::App& app);
void setup_tasks(CLI::App& app);
void setup_data(CLI::App& app);
void setup_layers(CLI::App& app);
void setup_describe(CLI::App& app);
void setup_normalize(CLI::App& app);
void setup_train(CLI::App& app);
void setup_scores(CLI::App& app);
void setup_compare(CLI::App& app);
void setup_report(CLI::App& app);
void setup_runs(CLI::App& app);
void setup_results(CLI::App& app);
void setup_sweep(CLI::App& app);
void setup_bench(CLI::App& app);

}  // namespace mad::cli
