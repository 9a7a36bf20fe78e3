#pragma once
// Output files appear whole or not at all: we write to a temporary sibling and rename it
// over the target, so an interrupted run leaves the old file or a complete new one.
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ctb {

/// Writes `content` to `path` atomically (temp file in the same directory, fsync, rename).
/// Throws InputError naming the path when it cannot be written.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// Appends whole lines to `path` (creating it) as one contiguous batch: an exclusive advisory
/// lock (flock) around a single O_APPEND write, so any number of processes appending to one
/// log at once all keep their rows, never interleaved, and an append costs the bytes appended,
/// not the size of the file. A torn last line (no final '\n', left by a writer that died
/// mid-write) is cut off under the lock first; the returned warnings say so.
std::vector<std::string> append_lines_atomic(const std::filesystem::path& path,
                                             std::string_view lines);

/// An exclusive lock on a whole-file output that two processes might write at once (e.g. two
/// `gate --record` of one baseline): a lock file `.NAME.lock` beside it, held with flock for the
/// object's lifetime and removed on release (and by the signal handler).
class OutputLock {
 public:
  /// Takes the lock without waiting. Throws InputError naming `path` (and the holder's pid when
  /// known) when another process holds it, or when the lock file cannot be created.
  explicit OutputLock(const std::filesystem::path& path);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  /// The lock file's path.
  const std::string& lock_path() const { return lock_path_; }

 private:
  std::string lock_path_;
  int fd_ = -1;
  int slot_ = -1;  // signal-cleanup registration
};

/// Removes temp files registered by write_file_atomic that are still in flight, and lock files
/// of live OutputLocks (signal cleanup).
void remove_inflight_temp_files() noexcept;

}  // namespace ctb
