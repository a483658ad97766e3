// Helpers shared by the tasks tests.
#pragma once

#include <filesystem>
#include <string>

#include "tests/support/test_util.h"

namespace mad::tasks::testing {

using mad::testing::error_of;
using mad::testing::TempDir;

inline std::filesystem::path fixtures_dir() {
  return std::filesystem::path(MAD_SOURCE_DIR) / "tests" / "tasks" / "fixtures";
}

}  // namespace mad::tasks::testing
