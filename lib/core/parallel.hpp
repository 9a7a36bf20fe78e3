#pragma once
// A minimal fork-join loop: tasks are handed out dynamically, each writes only its own
// output, so results never depend on the thread count or the schedule.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/cancel.hpp"

namespace ctb {

/// Number of hardware threads (at least 1).
inline int hardware_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

/// Runs fn(task, worker) for task in [0, n_tasks) on `threads` workers (worker in
/// [0, threads)). Exceptions from fn are rethrown on the calling thread (the first one).
/// `cancel` (may be null) is checked before every task: once set, no new task starts and
/// Cancelled is thrown on the calling thread after the running tasks finish.
template <class Fn>
void parallel_for(size_t n_tasks, int threads, const CancelToken* cancel, Fn&& fn) {
  const int workers = std::max(1, std::min<int>(threads, static_cast<int>(n_tasks)));
  if (workers <= 1) {
    for (size_t t = 0; t < n_tasks; ++t) {
      throw_if_cancelled(cancel);
      fn(t, 0);
    }
    return;
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto body = [&](int worker) {
    try {
      for (size_t t = next.fetch_add(1); t < n_tasks; t = next.fetch_add(1)) {
        throw_if_cancelled(cancel);
        fn(t, worker);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n_tasks);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  for (int w = 1; w < workers; ++w) pool.emplace_back(body, w);
  body(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

/// parallel_for without cancellation.
template <class Fn>
void parallel_for(size_t n_tasks, int threads, Fn&& fn) {
  parallel_for(n_tasks, threads, nullptr, std::forward<Fn>(fn));
}

}  // namespace ctb
