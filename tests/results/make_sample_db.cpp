// Writes the scores example of results_test_util.h into a results database, for the command-line test
// of `mad scores`, `mad compare`, `mad report`, `mad runs` and `mad results merge` (there is no sweep
// runner to make one yet).
// Usage: make_sample_db OUT [ARCHITECTURE]   (ARCHITECTURE: only that architecture's runs)
//        make_sample_db OUT --seeds           (the seeds example instead)
#include <cstdio>
#include <exception>
#include <string>

#include "results_test_util.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: make_sample_db OUT [ARCHITECTURE]\n");
    return 2;
  }
  try {
    mad::results::ResultsDb db = mad::results::ResultsDb::open(argv[1]);
    if (argc == 3 && std::string(argv[2]) == "--seeds") mad::results::testing::record_seed_example(db);
    else mad::results::testing::record_example(db, argc == 3 ? argv[2] : "");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_sample_db: %s\n", e.what());
    return 1;
  }
  return 0;
}
