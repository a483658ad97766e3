#include "core/budget.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace mad {
namespace {

std::atomic<int64_t> g_budget{0};

int64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return int64_t{8} << 30;  // unknown: assume a small machine
  return static_cast<int64_t>(pages) * static_cast<int64_t>(page);
}

}  // namespace

int64_t memory_budget() {
  const int64_t b = g_budget.load();
  return b > 0 ? b : static_cast<int64_t>(0.8 * static_cast<double>(physical_memory()));
}

void set_memory_budget(int64_t bytes) { g_budget.store(bytes); }

int64_t parse_memory_size(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  const std::string suffix(end ? end : "");
  double scale = -1;
  if (suffix.empty() || suffix == "B") scale = 1;
  else if (suffix == "K" || suffix == "KiB") scale = 1024.0;
  else if (suffix == "M" || suffix == "MiB") scale = 1024.0 * 1024;
  else if (suffix == "G" || suffix == "GiB") scale = 1024.0 * 1024 * 1024;
  else if (suffix == "T" || suffix == "TiB") scale = 1024.0 * 1024 * 1024 * 1024;
  else if (suffix == "%") scale = static_cast<double>(physical_memory()) / 100;
  const double bytes = v * scale;
  MAD_CHECK(end != text.c_str() && errno == 0 && scale > 0 && std::isfinite(bytes) && bytes >= 1 && bytes < 9.2e18,
            "--max-memory: '{}' is not a memory size; give bytes with an optional K, M, G or T suffix (e.g. 8G) or a "
            "percentage of physical memory (e.g. 50%)",
            text);
  return static_cast<int64_t>(bytes);
}

std::string format_bytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1099511627776.0 * 1024) return fmt::format("{:.3g} PiB", b / (1099511627776.0 * 1024));
  if (b >= 1099511627776.0) return fmt::format("{:.1f} TiB", b / 1099511627776.0);
  if (b >= 1073741824.0) return fmt::format("{:.1f} GiB", b / 1073741824.0);
  if (b >= 1048576.0) return fmt::format("{:.1f} MiB", b / 1048576.0);
  return fmt::format("{} bytes", bytes);
}

void check_memory(int64_t bytes, std::string_view what, std::string_view fix) {
  const int64_t budget = memory_budget();
  MAD_CHECK(bytes <= budget, "{} needs {}, more than the memory budget of {} (--max-memory); {}", what,
            format_bytes(bytes), format_bytes(budget), fix);
}

}  // namespace mad
