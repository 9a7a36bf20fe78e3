#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"

namespace ctb {
namespace {

// At most one temp file is in flight per writer thread; a small fixed table lets a signal
// handler unlink them without allocating.
constexpr int kMaxInflight = 16;
std::atomic<const char*> g_inflight[kMaxInflight];

int register_inflight(const char* path) {
  for (int i = 0; i < kMaxInflight; ++i) {
    const char* expected = nullptr;
    if (g_inflight[i].compare_exchange_strong(expected, path)) return i;
  }
  return -1;
}

void unregister_inflight(int slot) {
  if (slot >= 0) g_inflight[slot].store(nullptr);
}

struct InflightGuard {
  int slot = -1;
  explicit InflightGuard(const char* path) : slot(register_inflight(path)) {}
  ~InflightGuard() { unregister_inflight(slot); }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;
};

/// Writes all of `content` (retrying short writes and EINTR); returns 0 or the errno.
int write_fully(int fd, std::string_view content) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

void write_all(int fd, std::string_view content, const std::string& tmp,
               const std::filesystem::path& path) {
  if (const int err = write_fully(fd, content); err != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw InputError(path.string() + ": cannot write: " + std::strerror(err));
  }
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string name = ".";
  name += path.filename().string();
  name += ".tmp.XXXXXX";
  std::string tmpl = (dir / name).string();
  // Registered before the file exists: a signal arriving right after mkstemp must still find
  // (and unlink) it. Unlinking a name that does not exist yet is harmless.
  InflightGuard guard(tmpl.c_str());
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    throw InputError(path.string() + ": cannot create output file: " + std::strerror(errno));
  }
  write_all(fd, content, tmpl, path);
  ::fchmod(fd, 0644);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmpl.c_str());
    throw InputError(path.string() + ": cannot write output file: " + why);
  }
}

namespace {

// Retries flock across signals that interrupt the wait (EINTR).
int flock_retry(int fd, int op) {
  int rc = 0;
  do {
    rc = ::flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// The file's size after cutting a torn last line (bytes after its last '\n'); `size` when
// the file ends in '\n' or is empty. Reads backwards from the end, so it costs the torn line.
off_t complete_size(int fd, off_t size, const std::filesystem::path& path) {
  char last = '\n';
  if (size == 0 || ::pread(fd, &last, 1, size - 1) != 1 || last == '\n') return size;
  char buf[65536];
  off_t end = size;
  while (end > 0) {
    const off_t start = end > static_cast<off_t>(sizeof buf) ? end - sizeof buf : 0;
    const auto len = static_cast<size_t>(end - start);
    if (::pread(fd, buf, len, start) != static_cast<ssize_t>(len)) {
      throw InputError(path.string() + ": cannot read the end of the file to append to it");
    }
    for (size_t i = len; i > 0; --i) {
      if (buf[i - 1] == '\n') return start + static_cast<off_t>(i);
    }
    end = start;
  }
  return 0;
}

}  // namespace

std::vector<std::string> append_lines_atomic(const std::filesystem::path& path,
                                             std::string_view lines) {
  std::vector<std::string> warnings;
  std::string batch(lines);
  if (!batch.empty() && batch.back() != '\n') batch.push_back('\n');
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw InputError(path.string() + ": cannot open to append: " + std::strerror(errno));
  // One lock per batch: appenders queue here, and each one's rows land as one contiguous run.
  if (flock_retry(fd, LOCK_EX) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw InputError(path.string() + ": cannot lock to append: " + why);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw InputError(path.string() + ": cannot stat to append: " + why);
  }
  // Under the lock no other writer is mid-write, so a missing final '\n' is a dead writer's
  // torn row: appending after it would glue our first row to it and spoil both.
  try {
    const off_t keep = complete_size(fd, st.st_size, path);
    if (keep != st.st_size) {
      if (::ftruncate(fd, keep) != 0) {
        throw InputError(path.string() + ": cannot cut a torn last line: " + std::strerror(errno));
      }
      warnings.push_back(path.string() + ": torn last line (" + std::to_string(st.st_size - keep) +
                         " bytes without a newline) removed before appending");
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (const int err = write_fully(fd, batch); err != 0) {
    ::close(fd);
    throw InputError(path.string() + ": cannot append: " + std::strerror(err));
  }
  ::fdatasync(fd);
  ::close(fd);  // releases the lock
  return warnings;
}

OutputLock::OutputLock(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  std::string name = ".";  // built in steps: GCC 12 warns (-Wrestrict) on "." + string
  name += path.filename().string();
  name += ".lock";
  lock_path_ = (dir / name).string();
  slot_ = register_inflight(lock_path_.c_str());
  // A lock file unlinked by its previous holder between our open and our flock is a stale
  // inode: retry until the locked inode is the one at the path.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      const std::string why = std::strerror(errno);
      unregister_inflight(slot_);
      throw InputError(path.string() + ": cannot create lock file " + lock_path_ + ": " + why);
    }
    if (flock_retry(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char pid[32] = {};
      const ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
      ::close(fd);
      unregister_inflight(slot_);
      if (err == EWOULDBLOCK) {
        std::string holder = n > 0 ? std::string(pid, static_cast<size_t>(n)) : std::string();
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) {
          holder.pop_back();
        }
        throw InputError(path.string() + ": another process" +
                         (holder.empty() ? std::string() : " (pid " + holder + ")") +
                         " is writing this file (lock " + lock_path_ + " held)");
      }
      throw InputError(path.string() + ": cannot lock " + lock_path_ + ": " + std::strerror(err));
    }
    struct stat held {};
    struct stat now {};
    if (::fstat(fd, &held) == 0 && ::stat(lock_path_.c_str(), &now) == 0 &&
        held.st_ino == now.st_ino && held.st_dev == now.st_dev) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] const ssize_t w = ::pwrite(fd, pid.data(), pid.size(), 0);
      }
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  unregister_inflight(slot_);
  throw InputError(path.string() + ": cannot take lock " + lock_path_ + " (it keeps changing)");
}

OutputLock::~OutputLock() {
  // Unlink while still holding it: a waiter that opened the old inode sees it is stale.
  ::unlink(lock_path_.c_str());
  unregister_inflight(slot_);
  ::close(fd_);
}

void remove_inflight_temp_files() noexcept {
  for (auto& slot : g_inflight) {
    const char* p = slot.load();
    if (p != nullptr) ::unlink(p);
  }
}

}  // namespace ctb
