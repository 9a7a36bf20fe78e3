#pragma once
// Output files appear whole or not at all: we write to a temporary sibling and rename it
// over the target, so an interrupted run leaves the old file or a complete new one.
#include <filesystem>
#include <string>
#include <string_view>

namespace ctb {

/// Writes `content` to `path` atomically (temp file in the same directory, fsync, rename).
/// Throws InputError naming the path when it cannot be written.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

/// Appends whole lines to `path` (creating it), keeping the file always a sequence of complete
/// lines: the existing content plus the new lines is written to a temp file and renamed over.
void append_lines_atomic(const std::filesystem::path& path, std::string_view lines);

/// Removes temp files registered by write_file_atomic that are still in flight (signal cleanup).
void remove_inflight_temp_files() noexcept;

}  // namespace ctb
