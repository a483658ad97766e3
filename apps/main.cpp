// The `mad` command line: a thin shell over the libraries. Each subcommand lives in its own file
// (apps/cmd_*.cpp) with an options struct, a setup function that registers it, and a run function.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <string>

#include "apps/commands.h"
#include "core/budget.h"
#include "kernels/isa.h"

int main(int argc, char** argv) {
  CLI::App app{
      "mad: Mechanistic Architecture Design on the CPU.\n"
      "Trains small sequence models on the six MAD synthetic tasks and compares architectures."};
  // The kernels' instruction set is chosen at start-up (kernels/isa.h); an invalid MAD_ISA is reported
  // here, in one line, before any command runs.
  std::string isa;
  try {
    isa = mad::kernels::isa_summary();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mad: error: %s\n", e.what());
    return 1;
  }
  app.set_version_flag("--version", std::string("mad ") + MAD_VERSION + ", kernels " + isa);
  app.require_subcommand(1);
  // Global, so that it may stand before or after the subcommand (fallthrough); applied while parsing,
  // before any command runs, so that every size check (core/budget.h) sees it.
  app.fallthrough();
  app.add_option_function<std::string>(
      "--max-memory", [](const std::string& size) { mad::set_memory_budget(mad::parse_memory_size(size)); },
      "memory budget that parameter blocks, datasets and tensors are checked against before allocation: bytes "
      "with a K, M, G or T suffix (8G) or a percentage of physical memory (50%); default 80%");
  mad::cli::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line naming the problem; --help explains the rest.
    std::fprintf(stderr, "mad: error: %s (see 'mad --help')\n", e.what());
    return 2;
  } catch (const mad::cli::ExitStatus& e) {
    return e.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mad: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
