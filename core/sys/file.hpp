// Small file helpers that throw SysError naming the path.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/sys/fd.hpp"

namespace kiln {

Fd open_file(const std::string& path, int flags, mode_t mode = 0);
std::string read_file(const std::string& path);
std::string read_fd(int fd);
std::optional<std::string> read_file_if_exists(const std::string& path);
// Creates or truncates.
void write_file(const std::string& path, std::string_view data, mode_t mode = 0644);
// Writes into a file that must already exist (cgroup, /proc and /sys files).
void write_existing(const std::string& path, std::string_view data);
// Writes a temp file beside `path`, then renames it over `path`. With `durable`, the data and the
// directory entry are fsynced, so after a crash the file is either the old or the new content.
void atomic_write(const std::string& path, std::string_view data, bool durable, mode_t mode = 0644);
void write_all(int fd, std::string_view data, const std::string& what);
// write(2) to a pipe or fifo whose reader may be gone: EPIPE comes back as an error instead of a
// SIGPIPE that would kill the runtime halfway through its work.
ssize_t write_no_sigpipe(int fd, const void* data, size_t len);
// mkdir -p; returns true when it created the last component.
bool mkdir_all(const std::string& path, mode_t mode = 0755);
void remove_all(const std::string& path);
bool path_exists(const std::string& path);

}  // namespace kiln
