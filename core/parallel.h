// Threads: the one owner of parallelism in madcpp.
//
// A fixed pool of workers executes parallel_for with a static partition: range [0, n) is cut into
// num_threads() contiguous chunks, chunk i always runs the same indices, so results depend only on the
// thread count, never on timing. Training runs default to one thread (sweeps parallelise across runs);
// `--threads N` sets it. Nested parallel_for calls run serially in the calling thread. Dispatch performs no
// heap allocation.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace mad {

// Sets the number of threads used by parallel_for (>= 1). Not to be called while a parallel_for runs.
void set_num_threads(int n);
int num_threads();

namespace detail {
// Type-erased reference to a callable taking (begin, end); does not own or allocate.
struct RangeFn {
  void* object;
  void (*call)(void*, int64_t, int64_t);
};
void run_parallel(int64_t n, int64_t min_chunk, RangeFn fn);
}  // namespace detail

// Calls fn(begin, end) on disjoint chunks covering [0, n). Chunks are at least `min_chunk` long so that
// tiny loops stay on one thread.
template <typename Fn>
void parallel_for(int64_t n, int64_t min_chunk, Fn&& fn) {
  using F = std::remove_reference_t<Fn>;
  detail::RangeFn erased{const_cast<void*>(static_cast<const void*>(&fn)),
                         [](void* o, int64_t b, int64_t e) { (*static_cast<F*>(o))(b, e); }};
  detail::run_parallel(n, min_chunk, erased);
}

}  // namespace mad
