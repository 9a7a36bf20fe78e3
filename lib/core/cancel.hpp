#pragma once
// Cooperative cancellation: a caller (the Python module on Ctrl-C) sets the token from another
// thread; long loops check it between tasks (parallel_for) and stop by throwing Cancelled.
// Nothing is left half-written that outlives the call: results are discarded, inputs (a built
// tree) are only read, so they stay usable.
#include <atomic>
#include <stdexcept>

namespace ctb {

class CancelToken {
 public:
  void cancel() noexcept { flag_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return flag_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

/// Thrown by a cancelled loop; callers that set the token catch it.
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

/// Throws Cancelled when `token` (may be null: never cancelled) is set.
inline void throw_if_cancelled(const CancelToken* token) {
  if (token != nullptr && token->cancelled()) throw Cancelled();
}

}  // namespace ctb
