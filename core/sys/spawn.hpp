// Starting programs with posix_spawn: what a multithreaded process (kilnd) may do instead of
// fork, whose child could only call async-signal-safe functions until it execs.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace kiln {

struct SpawnOptions {
    // The child's fds 0, 1 and 2: an fd of ours (dup2'd), or a path opened in the child; -1 and
    // an empty path give /dev/null.
    int stdio_fds[3] = {-1, -1, -1};
    std::string stdio_paths[3];
    // More fds of ours to place at given numbers in the child: {ours, theirs}.
    std::vector<std::pair<int, int>> extra_fds;
    bool new_session = false;  // setsid: the child outlives us and our terminal's signals
    bool search_path = false;  // argv[0] without a slash is looked up in $PATH (posix_spawnp)
};

// Every signal at its default and none blocked in the child, whatever the caller's mask and
// handlers. Throws SysError naming the program when it cannot be started.
pid_t spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

// Waits for a child; its exit code, or 128 + the signal that ended it.
int wait_child(pid_t pid);

// What run_captured collected.
struct Captured {
    int exit_code = 0;
    std::string out;
    std::string err;
};

// Runs a program to its end with `input` on its stdin and its stdout and stderr collected, each
// up to `max_output` bytes (what is beyond is read and dropped, so the program never blocks on
// a full pipe). A program that closes its stdin early just gets less input. Throws SysError
// naming the program when it cannot be started.
Captured run_captured(const std::vector<std::string>& argv, const std::string& input = "",
                      size_t max_output = 4 << 20, bool search_path = false);

}  // namespace kiln
