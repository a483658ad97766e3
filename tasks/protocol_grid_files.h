// The protocol grid files compiled into the library: defined in protocol_grid_files.cpp, which CMake
// generates from configs/tasks/*.yml (protocol_grid_files.cpp.in). Internal to protocol_grid.cpp.
#pragma once

#include <array>

namespace mad::tasks {

struct EmbeddedGridFile {
  const char* path;  // relative to the repository, for error messages
  const char* text;
};

extern const std::array<EmbeddedGridFile, 7> kEmbeddedGridFiles;

}  // namespace mad::tasks
