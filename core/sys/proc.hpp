// Facts about processes read from /proc, and pidfds that survive pid reuse.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/sys/fd.hpp"

namespace kiln {

struct ProcStat {
    char state = '?';         // R S D Z T t X ...
    uint64_t start_time = 0;  // clock ticks after boot; with the pid, it names one process
    pid_t ppid = 0;
};

std::optional<ProcStat> read_proc_stat(pid_t pid);

// A pidfd for `pid` if that pid still names the process that started at `start_time`.
// Returns an empty Fd when the process is gone (or the pid was reused).
Fd open_process(pid_t pid, uint64_t start_time);

// Waits until the process behind `pidfd` has exited, at most `timeout_ms` (-1: forever).
// Returns true when it has exited.
bool wait_pidfd_exit(int pidfd, int timeout_ms);

}  // namespace kiln
