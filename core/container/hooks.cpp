// Runtime-side hooks: spawned with posix_spawn, state on stdin, output kept for the error.
#include "core/container/hooks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "core/container/process.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"
#include "core/sys/syscalls.hpp"


namespace kiln::container {
namespace {

constexpr size_t kMaxOutput = 4096;

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// The hook as a child with stdin `in`, stdout and stderr `out`, every signal at its default and
// none blocked (run blocks those it forwards; glibc's posix_spawn would leave its own two
// ignored). An exec failure comes back through a close-on-exec pipe.
pid_t spawn(const char* path, char* const* argv, char* const* envp, int in, int out, const std::string& field) {
    int report[2];
    if (::pipe2(report, O_CLOEXEC) < 0) throw_sys("pipe2", field);
    Fd report_r(report[0]), report_w(report[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw_sys("fork", field);
    if (pid == 0) {
        if (::dup2(in, 0) >= 0 && ::dup2(out, 1) >= 0 && ::dup2(out, 2) >= 0) {
            reset_signals();
            ::execve(path, argv, envp);
        }
        int err = errno;
        ssize_t w = ::write(report[1], &err, sizeof err);
        (void)w;
        _exit(127);
    }
    report_w.reset();
    int err = 0;
    ssize_t n;
    do {
        n = ::read(report_r.get(), &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof err)) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        throw_sys(err, field + ": spawn", path);
    }
    return pid;
}

void run_one(const oci::Hook& hook, const std::string& field, const std::string& state) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) < 0) throw_sys("pipe2", field);
    Fd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) < 0) throw_sys("pipe2", field);
    Fd out_r(out[0]), out_w(out[1]);

    std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
    std::vector<std::string> env = hook.env;
    auto argv = c_strings(args);
    auto envp = c_strings(env);
    pid_t pid = spawn(hook.path.c_str(), argv.data(), envp.data(), in_r.get(), out_w.get(), field);
    in_r.reset();
    out_w.reset();

    // The hook need not read its stdin; never block on it.
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
    // A hook that exits without reading its stdin must not take the runtime down with SIGPIPE.
    ssize_t w = write_no_sigpipe(in_w.get(), state.data(), state.size());
    (void)w;
    in_w.reset();

    Fd pidfd(sys::pidfd_open(pid, 0));
    std::string output;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(hook.timeout.value_or(0));
    bool timed_out = false;
    bool exited = false;
    while (!exited) {
        struct pollfd fds[2] = {{pidfd.get(), POLLIN, 0}, {out_r.get(), POLLIN, 0}};
        int timeout_ms = -1;
        if (hook.timeout) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            timeout_ms = left.count() > 0 ? static_cast<int>(left.count()) : 0;
        }
        int n = ::poll(fds, out_r ? 2 : 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        if (fds[0].revents) exited = true;
        if (out_r && fds[1].revents) {
            char buf[1024];
            ssize_t r = ::read(out_r.get(), buf, sizeof buf);
            if (r <= 0) out_r.reset();
            else if (output.size() < kMaxOutput) output.append(buf, static_cast<size_t>(r));
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (out_r) {
        ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK);
        char buf[1024];
        ssize_t r;
        while (output.size() < kMaxOutput && (r = ::read(out_r.get(), buf, sizeof buf)) > 0)
            output.append(buf, static_cast<size_t>(r));
    }
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    std::string tail = output.empty() ? "" : ": " + output;
    if (timed_out)
        throw Error(Errc::failed_precondition, field + ": " + hook.path + " did not finish within " +
                                                   std::to_string(*hook.timeout) + "s" + tail);
    if (WIFSIGNALED(status))
        throw Error(Errc::failed_precondition,
                    field + ": " + hook.path + " was killed by signal " + std::to_string(WTERMSIG(status)) + tail);
    if (WEXITSTATUS(status) != 0)
        throw Error(Errc::failed_precondition,
                    field + ": " + hook.path + " exited with status " + std::to_string(WEXITSTATUS(status)) + tail);
}

}  // namespace

void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& name, const std::string& state_json) {
    for (size_t i = 0; i < hooks.size(); ++i)
        run_one(hooks[i], "hooks." + name + "[" + std::to_string(i) + "]", state_json);
}

void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& name, const std::string& state_json) {
    for (size_t i = 0; i < hooks.size(); ++i) {
        try {
            run_one(hooks[i], "hooks." + name + "[" + std::to_string(i) + "]", state_json);
        } catch (const Error& e) {
            log::warn(e.what());
        }
    }
}

}  // namespace kiln::container
