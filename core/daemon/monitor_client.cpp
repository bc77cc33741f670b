// Spawning kiln-monitor and its request/reply exchanges.
#include "core/daemon/monitor_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "core/monitor/protocol.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/proc.hpp"
#include "core/sys/socket.hpp"
#include "core/sys/spawn.hpp"

namespace kiln::daemon {
namespace {

// Create + start of a container is well under a second; this bounds a wedged one.
constexpr int kReadyTimeoutMs = 60000;

Errc errc_from(const std::string& name) {
    for (Errc e : {Errc::not_found, Errc::already_exists, Errc::invalid_argument, Errc::failed_precondition})
        if (errc_name(e) == name) return e;
    return Errc::internal;
}

}  // namespace

MonitorStarted spawn_monitor(const MonitorSpawn& s) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe2", "monitor ready pipe");
    Fd rd(p[0]), wr(p[1]);
    const int child_ready_fd = 3;

    std::vector<std::string> args = {s.binary,
                                     "--runtime", s.runtime_binary,
                                     "--runtime-root", s.runtime_root,
                                     "--id", s.id,
                                     "--bundle", s.bundle,
                                     "--log", s.log_path,
                                     "--log-max-size", std::to_string(s.log_max_size),
                                     "--log-max-files", std::to_string(s.log_max_files),
                                     "--socket", s.socket_path,
                                     "--status", s.status_path,
                                     "--ready-fd", std::to_string(child_ready_fd)};
    if (s.stdin_open) args.push_back("--stdin");
    SpawnOptions so;
    so.stdio_paths[1] = s.diag_path;
    so.stdio_paths[2] = s.diag_path;
    so.extra_fds = {{wr.get(), child_ready_fd}};
    // Its own session: kilnd's death, and signals to kilnd's terminal, must not reach it.
    so.new_session = true;
    pid_t pid = spawn(args, so);
    wr.reset();

    MonitorStarted started;
    started.monitor_pid = pid;
    if (auto st = read_proc_stat(pid)) started.monitor_start_time = st->start_time;

    std::string line;
    char buf[4096];
    for (;;) {
        struct pollfd pfd{rd.get(), POLLIN, 0};
        int r = ::poll(&pfd, 1, kReadyTimeoutMs);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            ::kill(pid, SIGKILL);
            reap_monitor(pid);
            throw Error(Errc::internal, "container " + s.id + ": the monitor did not report in time");
        }
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        line.append(buf, static_cast<std::size_t>(n));
    }
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) {
        reap_monitor(pid);
        std::string diag = read_file_if_exists(s.diag_path).value_or("");
        throw Error(Errc::internal, "container " + s.id + ": the monitor exited without reporting" +
                                        (diag.empty() ? std::string() : ": " + diag));
    }
    if (j.contains("error")) {
        reap_monitor(pid);
        throw Error(errc_from(j.value("code", "internal")), j.value("error", "unknown error"));
    }
    started.pid = j.value("pid", 0);
    started.started_at = j.value("started_at", "");
    return started;
}

nlohmann::json monitor_request(const std::string& socket_path, const nlohmann::json& request, int timeout_ms) {
    Fd fd = connect_unix(socket_path);
    monitor::write_frame(fd.get(), monitor::FrameKind::control, request.dump());
    auto f = monitor::read_frame(fd.get(), timeout_ms);
    if (!f) throw Error(Errc::internal, "monitor at " + socket_path + " closed without an answer");
    auto j = nlohmann::json::parse(f->payload, nullptr, false);
    if (!j.is_object()) throw Error(Errc::internal, "monitor at " + socket_path + ": a malformed answer");
    if (j.contains("error")) throw Error(Errc::internal, "monitor: " + j.value("error", ""));
    return j;
}

void reap_monitor(pid_t pid) {
    int st;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace kiln::daemon
