// Fuzz target: the results database opener. The input is written to a file and opened as `mad runs`
// and `mad scores` open it (read-only: schema checks, then every query they run), and, when it is a
// results database of an older schema, for writing (the migration), as `mad sweep run` does. SQLite itself is fuzzed by its authors; this is
// about what madcpp does with the files SQLite accepts: other programs' databases, damaged schemas,
// unexpected types and values in every column.
#include "fuzz/fuzz_input.h"
#include "core/error.h"
#include "results/results_db.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mad::fuzz::InputFile input(data, size, "input.db");
  const std::string& path = input.path();
  using mad::results::ResultsDb;
  bool older_schema = false;
  mad::fuzz::rejecting([&] {
    try {
      ResultsDb db = ResultsDb::open(path, ResultsDb::Access::read_only, mad::results::LockWait{.timeout_ms = 0});
      for (const mad::results::StoredRun& run : db.runs()) {
        db.epochs(run.key);
        db.run_state(run.key, true);
      }
      db.sweeps();
      db.completed_keys();
    } catch (const mad::Error& e) {
      older_schema = std::string_view(e.what()).find("open it once for writing") != std::string_view::npos;
      throw;
    }
  });
  // Opening for writing migrates a database of an older schema. Only those inputs take this path: for
  // the others it is SQLite creating a fresh schema, at 30x the cost of an input (170 against 5,000 a
  // second), which would leave the fuzzer little time for madcpp's code.
  if (older_schema) {
    mad::fuzz::rejecting([&] {
      ResultsDb db = ResultsDb::open(path, ResultsDb::Access::read_write, mad::results::LockWait{.timeout_ms = 0});
      db.runs();
    });
  }
  return 0;
}
