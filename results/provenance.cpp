#include "results/provenance.h"

#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "kernels/isa.h"

namespace mad::results {

std::string utc_timestamp(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec);
}

Provenance this_process(int64_t threads) {
  Provenance p;
  p.code_version = MAD_VERSION;
  // MAD_VERSION comes from the build (mad_common_flags in the top-level CMakeLists.txt); the kernels'
  // instruction set is chosen at run time (kernels/isa.h).
  p.build_flags = "isa=" + std::string(kernels::isa_name(kernels::active_isa()));
#ifdef MAD_SANITIZED
  p.build_flags += " -fsanitize=address,undefined";
#endif
  p.threads = threads;
  char host[256] = {};
  p.host = gethostname(host, sizeof(host) - 1) == 0 ? host : "unknown";
  p.pid = getpid();
  p.started_at = utc_timestamp();
  return p;
}

}  // namespace mad::results
