// Counts global operator new calls so tests can assert that kernel calls do not allocate: read
// allocation_count() before and after a call. Replacing operator new is legal in exactly one translation
// unit of the program; only this test executable does it.
#include <atomic>
#include <cstdlib>
#include <new>

#include "kernel_test_util.h"

namespace {
std::atomic<std::size_t> g_allocations{0};
}

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

std::size_t mad::kernels::testing::allocation_count() {
  return g_allocations.load(std::memory_order_relaxed);
}
