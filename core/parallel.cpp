#include "core/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace mad {
namespace {

// True on pool workers and on a caller while it runs a parallel_for: nested calls then run serially.
thread_local bool t_inside_parallel = false;

class ThreadPool {
 public:
  ~ThreadPool() { resize(1); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
    // Workers start from the current generation so that they never miss a job posted before they wait.
    const uint64_t start = generation_;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, start] { worker_loop(i, start); });
  }

  void run(int64_t n, int chunks, detail::RangeFn fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = fn;
      n_ = n;
      chunks_ = chunks;
      pending_ = chunks - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    run_chunk(0);  // the caller runs chunk 0
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_chunk(int index) {
    const int64_t begin = n_ * index / chunks_, end = n_ * (index + 1) / chunks_;
    try {
      if (begin < end) fn_.call(fn_.object, begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void worker_loop(int index, uint64_t seen) {
    t_inside_parallel = true;
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      if (index >= chunks_) continue;
      lock.unlock();
      run_chunk(index);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  detail::RangeFn fn_{};
  int64_t n_ = 0;
  int chunks_ = 1;
  int pending_ = 0;
  std::exception_ptr error_;
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

int g_threads = 1;

}  // namespace

void set_num_threads(int n) {
  MAD_CHECK(n >= 1 && n <= 256, "--threads must be between 1 and 256, got {}", n);
  if (n == g_threads) return;
  pool().resize(n);
  g_threads = n;
}

int num_threads() { return g_threads; }

namespace detail {

void run_parallel(int64_t n, int64_t min_chunk, RangeFn fn) {
  if (n <= 0) return;
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(1, min_chunk));
  const int chunks = static_cast<int>(std::min<int64_t>(g_threads, max_chunks));
  if (chunks <= 1 || t_inside_parallel) {
    fn.call(fn.object, 0, n);
    return;
  }
  // Workers run chunks 1..chunks-1 and the caller chunk 0; the partition depends only on n and chunks.
  struct Flag {
    Flag() { t_inside_parallel = true; }
    ~Flag() { t_inside_parallel = false; }
  } flag;
  pool().run(n, chunks, fn);
}

}  // namespace detail
}  // namespace mad
