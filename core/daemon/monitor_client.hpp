// kilnd's side of kiln-monitor: start one with posix_spawn (kilnd never forks a container
// itself), and talk to it on its socket.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/sys/fd.hpp"

namespace kiln::daemon {

struct MonitorSpawn {
    std::string binary;        // kiln-monitor
    std::string runtime_binary;  // kiln-runtime
    std::string runtime_root;
    std::string id;
    std::string bundle;
    std::string log_path;
    std::uint64_t log_max_size = 10 << 20;
    int log_max_files = 3;
    std::string socket_path;
    std::string status_path;
    std::string diag_path;     // the monitor's own stderr
    bool stdin_open = false;
};

struct MonitorStarted {
    pid_t monitor_pid = 0;
    std::uint64_t monitor_start_time = 0;  // with the pid, names the monitor across pid reuse
    pid_t pid = 0;                         // the container's init
    std::string started_at;
};

// Spawns a monitor in its own session and waits until it reports the container running, or
// throws the error it reported (the monitor has exited and cleaned up by then).
MonitorStarted spawn_monitor(const MonitorSpawn& s);

// One request/reply on a monitor socket: {"op":"state"} or {"op":"signal","signal":N}.
nlohmann::json monitor_request(const std::string& socket_path, const nlohmann::json& request, int timeout_ms = 5000);

// Reaps a monitor that is kilnd's child (no-op for an adopted one).
void reap_monitor(pid_t pid);

}  // namespace kiln::daemon
