// Spawning kiln-monitor and its request/reply exchanges.
#include "core/daemon/monitor_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "core/monitor/protocol.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/proc.hpp"
#include "core/sys/socket.hpp"

extern char** environ;

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
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, s.diag_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_adddup2(&fa, wr.get(), child_ready_fd);
    // Its own session, default signal dispositions, no signal blocked: a monitor must not
    // inherit kilnd's signal handling, and kilnd's death must not reach it.
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, s.binary.c_str(), &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw_sys(rc, "posix_spawn", s.binary);
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
