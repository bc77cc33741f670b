// posix_spawn with kiln's usual settings, and a program run to its end with its output collected.
#include "core/sys/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

extern char** environ;

namespace kiln {

pid_t spawn(const std::vector<std::string>& args, const SpawnOptions& o) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    for (int i = 0; i < 3; ++i) {
        if (o.stdio_fds[i] >= 0) {
            posix_spawn_file_actions_adddup2(&fa, o.stdio_fds[i], i);
        } else {
            const std::string& path = o.stdio_paths[i].empty() ? std::string("/dev/null") : o.stdio_paths[i];
            int flags = i == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND;
            posix_spawn_file_actions_addopen(&fa, i, path.c_str(), flags, 0640);
        }
    }
    for (auto [ours, theirs] : o.extra_fds) posix_spawn_file_actions_adddup2(&fa, ours, theirs);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (o.new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    pid_t pid = 0;
    int rc = o.search_path ? ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ)
                           : ::posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw_sys(rc, "posix_spawn", args[0]);
    return pid;
}

int wait_child(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

Captured run_captured(const std::vector<std::string>& argv, const std::string& input, size_t max_output,
                      bool search_path) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) < 0) throw_sys("pipe2", argv.empty() ? "" : argv[0]);
    Fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) < 0) throw_sys("pipe2", argv.empty() ? "" : argv[0]);
    Fd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) < 0) throw_sys("pipe2", argv.empty() ? "" : argv[0]);
    Fd err_r(err[0]), err_w(err[1]);
    SpawnOptions so;
    so.stdio_fds[0] = in_r.get();
    so.stdio_fds[1] = out_w.get();
    so.stdio_fds[2] = err_w.get();
    so.search_path = search_path;
    pid_t pid = spawn(argv, so);
    in_r.reset();
    out_w.reset();
    err_w.reset();
    Captured result;
    size_t written = 0;
    if (input.empty()) in_w.reset();
    if (in_w) ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
    while (out_r || err_r) {
        struct pollfd p[3];
        int n = 0;
        if (out_r) p[n++] = {out_r.get(), POLLIN, 0};
        if (err_r) p[n++] = {err_r.get(), POLLIN, 0};
        if (in_w) p[n++] = {in_w.get(), POLLOUT, 0};
        if (::poll(p, static_cast<nfds_t>(n), -1) < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::kill(pid, SIGKILL);
            wait_child(pid);
            throw_sys(e, "poll", argv[0]);
        }
        for (int i = 0; i < n; ++i) {
            if (!p[i].revents) continue;
            if (in_w && p[i].fd == in_w.get()) {
                ssize_t w = write_no_sigpipe(in_w.get(), input.data() + written, input.size() - written);
                if (w > 0) written += static_cast<size_t>(w);
                if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in_w.reset();
                continue;
            }
            Fd& fd = out_r && p[i].fd == out_r.get() ? out_r : err_r;
            std::string& into = &fd == &out_r ? result.out : result.err;
            char buf[16384];
            ssize_t r = ::read(fd.get(), buf, sizeof buf);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) fd.reset();
            else if (into.size() < max_output) into.append(buf, std::min(static_cast<size_t>(r), max_output - into.size()));
        }
    }
    in_w.reset();
    result.exit_code = wait_child(pid);
    return result;
}

}  // namespace kiln
