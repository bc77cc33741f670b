// kiln-monitor's work: have kiln-runtime create and start one container, hold its stdio (log
// file, attach clients on a unix socket), reap it (a subreaper, like conmon), and record how it
// ended; kilnd then deletes what is left of it. One process per container, single-threaded, a
// poll loop, kept small; it outlives kilnd, which adopts it again on restart.
#pragma once

#include <cstdint>
#include <string>

namespace kiln::monitor {

struct Options {
    std::string runtime_binary;  // kiln-runtime, which creates, starts and deletes the container
    std::string runtime_root;    // its --root (kilnd: <run-dir>/runtime)
    std::string id;            // container id under that root
    std::string bundle;        // OCI bundle (config.json + rootfs) kilnd prepared
    std::string log_path;      // JSON-lines log
    std::uint64_t log_max_size = 10 << 20;
    int log_max_files = 3;
    std::string socket_path;   // attach / state / signal
    std::string status_path;   // written atomically when the container has exited
    bool stdin_open = false;   // keep a stdin pipe that attach clients can write to
    int ready_fd = -1;         // receives one JSON line: {"pid":N,...} or {"error":"...","code":"..."}
};

// Runs the container to its end; returns the monitor's exit status (0 when the container ran,
// whatever its own exit code; 1 when it could not be created).
int run(const Options& options);

}  // namespace kiln::monitor
