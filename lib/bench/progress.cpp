#include "bench/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace ctb {

Progress::Progress(bool enabled) : active_(enabled && ::isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() { clear(); }

void Progress::status(const std::string& status) {
  if (!active_) return;
  std::string line = "\r" + status;
  if (status.size() < last_width_) line.append(last_width_ - status.size(), ' ');
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  last_width_ = status.size();
}

void Progress::clear() {
  if (!active_ || last_width_ == 0) return;
  std::fprintf(stderr, "\r%*s\r", static_cast<int>(last_width_), "");
  std::fflush(stderr);
  last_width_ = 0;
}

}  // namespace ctb
