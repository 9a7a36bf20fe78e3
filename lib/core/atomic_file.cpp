#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "core/error.hpp"

namespace ctb {
namespace {

// At most one temp file is in flight per writer thread; a small fixed table lets a signal
// handler unlink them without allocating.
constexpr int kMaxInflight = 16;
std::atomic<const char*> g_inflight[kMaxInflight];

struct InflightGuard {
  int slot = -1;
  explicit InflightGuard(const char* path) {
    for (int i = 0; i < kMaxInflight; ++i) {
      const char* expected = nullptr;
      if (g_inflight[i].compare_exchange_strong(expected, path)) {
        slot = i;
        return;
      }
    }
  }
  ~InflightGuard() {
    if (slot >= 0) g_inflight[slot].store(nullptr);
  }
  InflightGuard(const InflightGuard&) = delete;
  InflightGuard& operator=(const InflightGuard&) = delete;
};

void write_all(int fd, std::string_view content, const std::string& tmp,
               const std::filesystem::path& path) {
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw InputError(path.string() + ": cannot write: " + why);
    }
    p += n;
    left -= static_cast<size_t>(n);
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

void append_lines_atomic(const std::filesystem::path& path, std::string_view lines) {
  std::string content;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path.string() + ": cannot read existing file to append to it");
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!content.empty() && content.back() != '\n') content.push_back('\n');
  }
  content.append(lines);
  write_file_atomic(path, content);
}

void remove_inflight_temp_files() noexcept {
  for (auto& slot : g_inflight) {
    const char* p = slot.load();
    if (p != nullptr) ::unlink(p);
  }
}

}  // namespace ctb
