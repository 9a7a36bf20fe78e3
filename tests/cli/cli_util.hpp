#pragma once
// Runs the built covertree-bench binary as a child process (fork/exec, no shell), capturing
// stdout, stderr and how it ended, with a deadline so a hang fails the test instead of
// stalling it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/temp_dir.hpp"

namespace ctb::cli_test {

inline std::string binary() { return std::string(CTB_BINARY_DIR) + "/covertree-bench"; }

struct ProcResult {
  int exit_code = -1;   // when the child exited
  int term_signal = 0;  // when a signal ended it
  bool timed_out = false;
  std::string out;
  std::string err;
  std::string describe() const {
    std::ostringstream s;
    s << "exit " << exit_code << ", signal " << term_signal << (timed_out ? ", TIMED OUT" : "")
      << "\n--- stdout ---\n"
      << out << "--- stderr ---\n"
      << err;
    return s.str();
  }
};

/// A started child: stdout/stderr pipes and its pid.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args, const std::filesystem::path& cwd = {}) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv_s{binary()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out_pipe[1], 1);
      ::dup2(err_pipe[1], 2);
      ::close(out_pipe[0]);
      ::close(err_pipe[0]);
      ::close(out_pipe[1]);
      ::close(err_pipe[1]);
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }

  /// True while the child runs (reaps it, keeping its status, when it has ended).
  bool running() {
    if (reaped_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      status_ = status;
      return false;
    }
    return true;
  }

  void signal(int sig) { ::kill(pid_, sig); }

  /// Collects output until the child exits or `timeout_s` passes (then kills it).
  ProcResult wait(double timeout_s) {
    ProcResult r;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    bool out_open = true;
    bool err_open = true;
    char buf[65536];
    while (out_open || err_open) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        r.timed_out = true;
        ::kill(pid_, SIGKILL);
        break;
      }
      pollfd fds[2] = {{out_open ? out_fd_ : -1, POLLIN, 0}, {err_open ? err_fd_ : -1, POLLIN, 0}};
      const int ready = ::poll(fds, 2, static_cast<int>(std::min<long>(left, 1000)));
      if (ready < 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          (i == 0 ? out_open : err_open) = false;
        } else {
          (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
        }
      }
    }
    int status = status_;
    if (!reaped_) {
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
    }
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
    return r;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

inline ProcResult run_cli(const std::vector<std::string>& args, double timeout_s = 120,
                          const std::filesystem::path& cwd = {}) {
  Child child(args, cwd);
  return child.wait(timeout_s);
}

using TempDir = ctb::test_support::TempDir;

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ctb::cli_test
