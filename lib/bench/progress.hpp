#pragma once
// Progress on a terminal: one status line on stderr, rewritten in place. Silent when stderr is
// not a terminal (CI logs, pipes), so scripted output stays clean.
#include <string>

namespace ctb {

class Progress {
 public:
  /// enabled = false forces silence; otherwise active only when stderr is a terminal.
  explicit Progress(bool enabled = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Shows `status` (replacing the previous status line).
  void status(const std::string& status);
  /// Clears the status line.
  void clear();
  bool active() const { return active_; }

 private:
  bool active_ = false;
  size_t last_width_ = 0;
};

}  // namespace ctb
