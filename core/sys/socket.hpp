// Passing file descriptors over unix sockets (SCM_RIGHTS).
#pragma once

#include <string>

#include "core/sys/fd.hpp"

namespace kiln {

// Sends `fd` with a payload (at least one byte is always sent). Returns 0 or -errno; usable
// between clone and exec (no allocation).
int send_fd(int sock, int fd, const void* data, size_t len) noexcept;
// Receives one fd and up to `len` bytes of payload into `data`; returns the fd or -errno.
int recv_fd(int sock, void* data, size_t len, size_t* received) noexcept;

Fd connect_unix(const std::string& path);

}  // namespace kiln
