#pragma once
// Long calls run on a worker thread with the GIL released while the calling thread, which
// holds the GIL between 100 ms waits, polls Python's signal handlers (PyErr_CheckSignals).
// When a handler raises (Ctrl-C: KeyboardInterrupt), the library's CancelToken is set, the
// worker stops at its next task boundary and the Python exception propagates. The module
// installs no signal handlers of its own: Python's (or the user's) decide what a signal means.
#include <pybind11/pybind11.h>

#include <chrono>
#include <future>
#include <thread>
#include <utility>

#include "core/cancel.hpp"

namespace ctb::python {

namespace py = pybind11;

/// Returns work(token) computed without the GIL. Needs the GIL; `work` must not touch Python
/// objects.
template <class Work>
auto run_interruptible(Work&& work) -> decltype(work(static_cast<const CancelToken*>(nullptr))) {
  using Result = decltype(work(static_cast<const CancelToken*>(nullptr)));
  constexpr auto kPoll = std::chrono::milliseconds(100);  // Ctrl-C answered within ~this
  CancelToken token;
  std::packaged_task<Result()> task([&] { return work(&token); });
  std::future<Result> result = task.get_future();
  bool interrupted = false;
  {
    py::gil_scoped_release release;
    std::thread worker(std::move(task));
    while (result.wait_for(kPoll) != std::future_status::ready) {
      py::gil_scoped_acquire acquire;
      if (PyErr_CheckSignals() != 0) {
        token.cancel();
        interrupted = true;
        break;
      }
    }
    worker.join();  // a cancelled worker stops at its next task boundary
  }
  if (interrupted)
    throw py::error_already_set();  // the handler's exception, e.g. KeyboardInterrupt
  return result.get();
}

}  // namespace ctb::python
