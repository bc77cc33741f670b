#include "core/daemon/sandbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/cgroups/cgroup.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"
#include "core/sys/proc.hpp"
#include "core/sys/spawn.hpp"

namespace kiln::daemon {
namespace {

constexpr int kReportFd = 3;
constexpr int kReadyTimeoutMs = 10000;

// Reads kiln-pause's report until it closes fd 3 (it exits right after writing).
std::string read_report(int fd) {
    std::string out;
    char buf[512];
    for (;;) {
        struct pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, kReadyTimeoutMs);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_sys("poll", "kiln-pause's report");
        if (r == 0) throw Error(Errc::internal, "kiln-pause did not report within " + std::to_string(kReadyTimeoutMs / 1000) + " s");
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_sys("read", "kiln-pause's report");
        if (n == 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

}  // namespace

SandboxStarted start_sandbox(const SandboxParams& p) {
    const PodSpec& pod = *p.pod;
    cgroups::Cgroup cg(cgroups::host_layout(), p.cgroups_path, "");
    cg.create();
    auto join = cg.open_for_join();

    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) throw_sys("pipe2", "kiln-pause's report");
    Fd report(pipe_fds[0]), report_w(pipe_fds[1]);

    std::vector<std::string> argv{p.pause_binary, "--report-fd", std::to_string(kReportFd), "--root", p.root, "--hostname", pod.hostname.empty() ? pod.name : pod.hostname};
    if (!pod.host_network()) argv.emplace_back("--net");
    if (pod.share_pid) argv.emplace_back("--pid");
    if (!p.uid_map.empty()) argv.insert(argv.end(), {"--uid-map", p.uid_map, "--gid-map", p.gid_map});
    SpawnOptions so;
    so.new_session = true;
    so.extra_fds.emplace_back(report_w.get(), kReportFd);
    int next = kReportFd + 1;
    if (join.v2_dir) {
        so.extra_fds.emplace_back(join.v2_dir.get(), next);
        argv.insert(argv.end(), {"--cgroup-v2-fd", std::to_string(next++)});
    }
    for (const auto& t : join.v1_tasks) {
        so.extra_fds.emplace_back(t.get(), next);
        argv.insert(argv.end(), {"--cgroup-v1-fd", std::to_string(next++)});
    }
    pid_t launcher = spawn(argv, so);
    report_w.reset();
    join = {};
    std::string text;
    try {
        text = read_report(report.get());
    } catch (...) {
        ::kill(launcher, SIGKILL);  // and the holder with it (its parent-death signal)
        wait_child(launcher);
        throw;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
        int code = wait_child(launcher);
        if (text.rfind("error: ", 0) == 0) text = text.substr(7);
        if (text.empty()) text = "kiln-pause exited with code " + std::to_string(code);
        throw Error(Errc::internal, "starting the pod's sandbox: " + text);
    }
    SandboxStarted out;
    out.launcher_pid = launcher;
    out.pid = static_cast<pid_t>(std::stol(text));
    out.started_at = rfc3339_now();
    auto st = read_proc_stat(launcher);
    if (!st || st->state == 'Z') {
        wait_child(launcher);
        throw Error(Errc::internal, "the pod's sandbox (pid " + text + ") exited as it started");
    }
    out.launcher_start_time = st->start_time;
    return out;
}

std::optional<SandboxStarted> find_sandbox(const std::string& cgroups_path) {
    std::vector<pid_t> pids;
    try {
        pids = cgroups::Cgroup(cgroups::host_layout(), cgroups_path, "").pids();
    } catch (const Error&) {
        return std::nullopt;  // no such cgroup
    }
    for (pid_t pid : pids) {
        auto comm = read_file_if_exists("/proc/" + std::to_string(pid) + "/comm");
        auto st = read_proc_stat(pid);
        if (!comm || *comm != "kiln-pause\n" || !st) continue;
        auto parent = read_proc_stat(st->ppid);
        if (!parent) continue;
        return SandboxStarted{st->ppid, parent->start_time, pid, rfc3339_now()};
    }
    return std::nullopt;
}

}  // namespace kiln::daemon
