// Process setup before execve: attributes, identity, capabilities, cwd, fds, terminal, hooks.
#include "core/container/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/oci/names.hpp"
#include "core/sys/socket.hpp"
#include "core/sys/raw_syscall.h"
#include "core/sys/syscalls.hpp"

namespace kiln::container {
namespace {

struct KernelSchedAttr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
};

int capset_all(const Capabilities& c) {
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    data[0].effective = static_cast<uint32_t>(c.effective);
    data[1].effective = static_cast<uint32_t>(c.effective >> 32);
    data[0].permitted = static_cast<uint32_t>(c.permitted);
    data[1].permitted = static_cast<uint32_t>(c.permitted >> 32);
    data[0].inheritable = static_cast<uint32_t>(c.inheritable);
    data[1].inheritable = static_cast<uint32_t>(c.inheritable >> 32);
    return static_cast<int>(::syscall(SYS_capset, &hdr, data));
}

const char* cap_name(int c) {
    std::string_view n = oci::capability_name(c);
    return n.empty() ? "?" : n.data();  // names are string literals, so NUL-terminated
}


}  // namespace

int apply_process_attributes(const ProcessPlan& p, InitError* e) noexcept {
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        const auto& r = p.rlimits[i];
        if (::setrlimit(r.resource, &r.limit) < 0)
            return init_fail(e, errno, "process.rlimits[%zu]: setrlimit %s soft=%llu hard=%llu", i, r.type.c_str(),
                             static_cast<unsigned long long>(r.limit.rlim_cur),
                             static_cast<unsigned long long>(r.limit.rlim_max));
    }
    if (p.oom_score_adj) {
        int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (fd < 0) return init_fail(e, errno, "process.oomScoreAdj: open /proc/self/oom_score_adj");
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%d", *p.oom_score_adj);
        ssize_t w = ::write(fd, buf, static_cast<size_t>(n));
        int err = errno;
        ::close(fd);
        if (w < 0) return init_fail(e, err, "process.oomScoreAdj: write %d", *p.oom_score_adj);
    }
    if (p.personality && ::personality(*p.personality) < 0)
        return init_fail(e, errno, "linux.personality: personality 0x%lx", *p.personality);
    if (p.ioprio && sys::ioprio_set(1 /* IOPRIO_WHO_PROCESS */, 0, *p.ioprio) < 0)
        return init_fail(e, errno, "process.ioPriority: ioprio_set 0x%x", *p.ioprio);
    if (p.scheduler) {
        KernelSchedAttr a = {};
        a.size = sizeof a;
        a.sched_policy = p.scheduler->policy;
        a.sched_flags = p.scheduler->flags;
        a.sched_nice = p.scheduler->nice;
        a.sched_priority = p.scheduler->priority;
        a.sched_runtime = p.scheduler->runtime;
        a.sched_deadline = p.scheduler->deadline;
        a.sched_period = p.scheduler->period;
        if (::syscall(SYS_sched_setattr, 0, &a, 0) < 0)
            return init_fail(e, errno, "process.scheduler: sched_setattr policy %u", a.sched_policy);
    }
    return 0;
}

namespace {

// errno as Go prints it ("no such file or directory"): callers match these words.
const char* go_error_text(int err, char* buf, size_t cap) noexcept {
    snprintf(buf, cap, "%s", strerrordesc_np(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = static_cast<char>(buf[0] - 'A' + 'a');
    return buf;
}

int exec_error(InitError* e, int err, const char* fmt, const char* name, const char* detail) noexcept {
    e->err = err;
    snprintf(e->message, sizeof e->message, fmt, name, detail);
    return -1;
}

}  // namespace

int find_executable(const ProcessPlan& p, InitError* e) noexcept {
    const char* name = p.args[0].c_str();
    char* out = p.exec_path;
    size_t cap = sizeof p.exec_path;
    struct stat st;
    char text[128];
    if (strchr(name, '/')) {
        if (::stat(name, &st) < 0) {
            int err = errno;
            e->err = err;
            snprintf(e->message, sizeof e->message, "exec: \"%s\": stat %s: %s", name, name,
                     go_error_text(err, text, sizeof text));
            return -1;
        }
        if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111))
            return exec_error(e, EACCES, "exec: \"%s\": %s", name, "permission denied");
        if (strlen(name) >= cap) return exec_error(e, ENAMETOOLONG, "exec: \"%s\": %s", name, "file name too long");
        strcpy(out, name);
        return 0;
    }
    const char* dirs = p.path_env.c_str();
    while (*dirs) {
        const char* end = strchr(dirs, ':');
        size_t len = end ? static_cast<size_t>(end - dirs) : strlen(dirs);
        // An empty entry means the current directory, as in execvp.
        int n = len == 0 ? snprintf(out, cap, "./%s", name)
                         : snprintf(out, cap, "%.*s/%s", static_cast<int>(len), dirs, name);
        if (n > 0 && static_cast<size_t>(n) < cap && ::stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
            (st.st_mode & 0111))
            return 0;
        if (!end) break;
        dirs = end + 1;
    }
    e->err = ENOENT;
    snprintf(e->message, sizeof e->message, "exec: \"%s\": executable file not found in $PATH", name);
    return -1;
}

namespace {

// False in a user namespace whose setgroups was denied (a rootless one, or one made so by
// whoever wrote its gid map): there even setgroups(0, ...) fails.
bool setgroups_allowed() noexcept {
    int fd = ::open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;  // no /proc in the container: try it
    char buf[8] = {};
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    return n < 4 || strncmp(buf, "deny", 4) != 0;
}

}  // namespace

int apply_identity(const ProcessPlan& p, InitError* e) noexcept {
    if (p.caps) {
        for (int c = 0; c <= p.last_cap; ++c) {
            if (p.caps->bounding & (1ULL << c)) continue;
            if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                return init_fail(e, errno, "process.capabilities.bounding: drop %s", cap_name(c));
        }
        // Keep the permitted set across the change of uid; capset sets it exactly below.
        if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return init_fail(e, errno, "prctl PR_SET_KEEPCAPS");
    }
    if (setgroups_allowed()) {
        if (::setgroups(p.additional_gids.size(), p.additional_gids.data()) < 0)
            return init_fail(e, errno, "process.user.additionalGids: setgroups (%zu groups)", p.additional_gids.size());
    } else if (!p.additional_gids.empty()) {
        return init_fail(e, EPERM, "process.user.additionalGids: setgroups is denied in this user namespace");
    }
    if (::setresgid(p.gid, p.gid, p.gid) < 0) return init_fail(e, errno, "process.user.gid: setresgid %u", p.gid);
    if (::setresuid(p.uid, p.uid, p.uid) < 0) return init_fail(e, errno, "process.user.uid: setresuid %u", p.uid);
    if (!p.caps) return 0;
    if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return init_fail(e, errno, "prctl PR_SET_KEEPCAPS");
    if (capset_all(*p.caps) < 0)
        return init_fail(e, errno, "process.capabilities: capset effective=0x%llx permitted=0x%llx inheritable=0x%llx",
                         static_cast<unsigned long long>(p.caps->effective),
                         static_cast<unsigned long long>(p.caps->permitted),
                         static_cast<unsigned long long>(p.caps->inheritable));
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return init_fail(e, errno, "process.capabilities.ambient: clear");
    for (int c = 0; c <= p.last_cap; ++c) {
        if (!(p.caps->ambient & (1ULL << c))) continue;
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
            return init_fail(e, errno,
                             "process.capabilities.ambient: raise %s (an ambient capability must also be "
                             "permitted and inheritable)",
                             cap_name(c));
    }
    return 0;
}

int enter_cwd(const ProcessPlan& p, InitError* e) noexcept {
    if (::chdir(p.cwd.c_str()) < 0) return init_fail(e, errno, "process.cwd: chdir `%s`", p.cwd.c_str());
    // getcwd fails with ENOENT (glibc) or returns "(unreachable)..." when the directory is outside
    // our root, which is how a leaked host fd would show.
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) return init_fail(e, errno, "process.cwd: `%s` is outside the container", p.cwd.c_str());
    if (buf[0] != '/') return init_fail(e, EPERM, "process.cwd: `%s` is outside the container", p.cwd.c_str());
    return 0;
}

int prepare_fds(int preserve_fds, InitError* e) noexcept {
    unsigned first = 3 + static_cast<unsigned>(preserve_fds);
    if (sys::close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        return init_fail(e, errno, "close_range %u.. CLOEXEC", first);
    for (int fd = 3; fd < static_cast<int>(first); ++fd) {
        int flags = ::fcntl(fd, F_GETFD);
        if (flags < 0) continue;  // a preserved fd the caller did not pass
        if (::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) return init_fail(e, errno, "keep fd %d", fd);
    }
    return 0;
}

void reset_signals() noexcept {
    // The raw calls: glibc's wrappers skip the two signals it keeps for itself (32 and 33), which
    // a parent's posix_spawn leaves ignored, and an ignored signal stays ignored across execve.
    kiln_kernel_sigaction dfl = {SIG_DFL, 0, nullptr, 0};
    for (int s = 1; s <= 64; ++s)
        if (s != SIGKILL && s != SIGSTOP) ::syscall(SYS_rt_sigaction, s, &dfl, nullptr, sizeof dfl.mask);
    uint64_t none = 0;
    ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof none);
}

int set_no_new_privileges(InitError* e) noexcept {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return init_fail(e, errno, "process.noNewPrivileges: prctl");
    return 0;
}

namespace {

// /dev/console becomes the pty: a clone of the slave's own mount moved onto an fd of
// /dev/console, so that neither end is a path a link in the rootfs could redirect.
int bind_console(int slave, const char* name, InitError* e) noexcept {
    // Never opened for real: a console device the image ships must not become ours.
    int target = ::open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (target >= 0 && ::fstat(target, &st) == 0 && S_ISLNK(st.st_mode)) {
        ::close(target);
        target = -1;
        if (::unlink("/dev/console") < 0) return init_fail(e, errno, "process.terminal: remove the link /dev/console");
        errno = ENOENT;
    }
    if (target == -1 && errno == ENOENT)
        target = ::open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (target < 0) return init_fail(e, errno, "process.terminal: open /dev/console");
    int tree = static_cast<int>(
        ::syscall(SYS_open_tree, slave, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
    int err = 0;
    if (tree < 0)
        err = errno;
    else if (::syscall(SYS_move_mount, tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        err = errno;
    if (tree >= 0) ::close(tree);
    ::close(target);
    if (err) return init_fail(e, err, "process.terminal: bind %s to /dev/console", name);
    return 0;
}

}  // namespace

int setup_terminal(const ProcessPlan& p, int socket, bool console, InitError* e) noexcept {
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return init_fail(e, errno, "process.terminal: open /dev/ptmx");
    int unlock = 0;
    unsigned n = 0;
    if (::ioctl(master, TIOCSPTLCK, &unlock) < 0 || ::ioctl(master, TIOCGPTN, &n) < 0) {
        ::close(master);
        return init_fail(e, errno, "process.terminal: unlock the pty");
    }
    char name[32];
    snprintf(name, sizeof name, "/dev/pts/%u", n);
    // The peer of this very master, not whatever a path names (TIOCGPTPEER: Linux 4.13).
    int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0 && (errno == EINVAL || errno == ENOTTY)) slave = ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) {
        int err = errno;
        ::close(master);
        return init_fail(e, err, "process.terminal: open %s", name);
    }
    if (p.console_height || p.console_width) {
        struct winsize ws = {p.console_height, p.console_width, 0, 0};
        ::ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (console && bind_console(slave, name, e) < 0) {
        ::close(master);
        ::close(slave);
        return -1;
    }
    int r = send_fd(socket, master, name, strlen(name));
    ::close(master);
    if (r < 0) {
        ::close(slave);
        return init_fail(e, -r, "process.terminal: send the pty master to the console socket");
    }
    if (::setsid() < 0 && errno != EPERM) {
        ::close(slave);
        return init_fail(e, errno, "setsid");
    }
    if (::ioctl(slave, TIOCSCTTY, 0) < 0) {
        int err = errno;
        ::close(slave);
        return init_fail(e, err, "process.terminal: set the controlling terminal");
    }
    for (int fd = 0; fd < 3; ++fd)
        if (::dup2(slave, fd) < 0) {
            int err = errno;
            ::close(slave);
            return init_fail(e, err, "process.terminal: dup2 onto fd %d", fd);
        }
    if (slave > 2) ::close(slave);
    return 0;
}

int run_hook(const HookExec& h, const char* state, size_t len, InitError* e) noexcept {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) return init_fail(e, errno, "%s: pipe", h.field.c_str());
    // A raw clone: no atfork handlers between here and execve.
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    if (pid < 0) {
        int err = errno;
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        return init_fail(e, err, "%s: clone", h.field.c_str());
    }
    if (pid == 0) {
        ::dup2(pipefd[0], 0);
        reset_signals();  // the hook gets a clean signal mask, not init's
        ::execve(h.path.c_str(), h.argv.data(), h.envp.data());
        _exit(127);
    }
    ::close(pipefd[0]);
    // The hook may not read its stdin: a full pipe must not block us, nor a closed one kill us.
    ::fcntl(pipefd[1], F_SETFL, O_NONBLOCK);
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    ::sigprocmask(SIG_BLOCK, &pipe_only, &old);
    if (::write(pipefd[1], state, len) < 0 && errno == EPIPE && !sigismember(&old, SIGPIPE)) {
        struct timespec none = {0, 0};
        ::sigtimedwait(&pipe_only, nullptr, &none);
    }
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(pipefd[1]);
    int pidfd = sys::pidfd_open(pid, 0);
    int status = 0;
    if (pidfd >= 0 && h.timeout_s > 0) {
        struct pollfd pfd = {pidfd, POLLIN, 0};
        int r;
        do {
            r = ::poll(&pfd, 1, h.timeout_s * 1000);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            ::close(pidfd);
            return init_fail(e, ETIMEDOUT, "%s: `%s` did not finish within %ds", h.field.c_str(), h.path.c_str(),
                             h.timeout_s);
        }
    }
    if (pidfd >= 0) ::close(pidfd);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status))
        return init_fail(e, 0, "%s: `%s` exited with status %d", h.field.c_str(), h.path.c_str(), WEXITSTATUS(status));
    return init_fail(e, 0, "%s: `%s` was killed by signal %d", h.field.c_str(), h.path.c_str(), WTERMSIG(status));
}

void exec_process(const ProcessPlan& p) noexcept {
    ::execve(p.exec_path, p.argv.data(), p.envp.data());
    // Too late to tell the runtime; the container's stderr is where the user looks.
    int err = errno;
    char msg[5000];
    int n = snprintf(msg, sizeof msg, "kiln-runtime: exec \"%s\": %s\n", p.exec_path, strerrordesc_np(err));
    if (n > 0) {
        ssize_t w = ::write(2, msg, static_cast<size_t>(n) < sizeof msg ? static_cast<size_t>(n) : sizeof msg - 1);
        (void)w;
    }
    _exit(err == ENOENT ? 127 : 126);
}

}  // namespace kiln::container
