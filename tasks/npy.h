// numpy .npy files of token matrices, the reference's storage format (mad-protocol.md section 8).
//
// Written as format 1.0, dtype '<i8' (int64, as the reference saves them), C order. Read: format 1.0 to
// 3.0, dtype int64 or int32 little-endian, C order, 2-D. Anything else (other dtypes, big-endian,
// Fortran order, other ranks, truncated or trailing bytes, values that do not fit int32) is a one-line
// mad::Error naming the file and what was expected.
#pragma once

#include <filesystem>

#include "tasks/token_matrix.h"

namespace mad::tasks {

TokenMatrix read_npy(const std::filesystem::path& path);
void write_npy(const std::filesystem::path& path, const TokenMatrix& matrix);

}  // namespace mad::tasks
