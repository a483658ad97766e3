// Provenance of runs made by this process: code version, build flags, host and UTC timestamps, so that
// every run row says where and how it was made (style.md habit 10).
#pragma once

#include <chrono>
#include <string>

#include "results/record.h"

namespace mad::results {

// The current time as ISO 8601 UTC with seconds: "2024-05-01T12:00:00Z" (sorts as text).
std::string utc_timestamp(std::chrono::system_clock::time_point time = std::chrono::system_clock::now());

// This build and host, with started_at set to now and finished_at empty.
Provenance this_process(int64_t threads);

}  // namespace mad::results
