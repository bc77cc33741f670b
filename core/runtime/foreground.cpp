// Staying attached to a container's process (run and exec without --detach): forward signals,
// proxy the terminal, reap, and report the exit status.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/socket.hpp"

namespace kiln::runtime {
namespace {

// Every signal that can be caught, as runc: all are forwarded but SIGCHLD (ours, for reaping),
// SIGWINCH (a resize of our terminal, copied to the pty) and SIGURG and SIGPIPE (about our own
// sockets and pipes). Faults stay unblocked so that a crash is still a crash.
sigset_t forwarded_set() {
    sigset_t set;
    sigfillset(&set);  // glibc leaves out its own two
    for (int s : {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&set, s);
    return set;
}

bool forwarded(int sig) { return sig != SIGCHLD && sig != SIGWINCH && sig != SIGURG && sig != SIGPIPE; }

void copy_winsize(int from, int to) {
    struct winsize ws;
    if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

bool copy(int from, int to) {
    char buf[16384];
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
    for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += w;
    }
    return true;
}

}  // namespace

void block_forwarded_signals() {
    sigset_t set = forwarded_set();
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

ConsolePair make_console_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) throw_sys("socketpair", "console");
    return {sv[0], sv[1]};
}

int receive_pty_master(int ours) {
    char name[64];
    size_t got = 0;
    int fd = recv_fd(ours, name, sizeof name, &got);
    if (fd < 0) throw_sys(-fd, "receive the pty master");
    return fd;
}

int wait_foreground(pid_t pid, int pty_master) {
    sigset_t set = forwarded_set();
    Fd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
    if (!sfd) throw_sys("signalfd");

    struct termios saved;
    bool raw = pty_master >= 0 && ::isatty(0) && ::tcgetattr(0, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        ::tcsetattr(0, TCSANOW, &t);
        copy_winsize(0, pty_master);
    }
    bool stdin_open = pty_master >= 0;
    bool master_open = pty_master >= 0;
    int status = 0;
    bool exited = false;
    while (!exited || master_open) {
        struct pollfd fds[3];
        nfds_t n = 0;
        fds[n++] = {sfd.get(), POLLIN, 0};
        int master_i = -1, stdin_i = -1;
        if (master_open) {
            master_i = static_cast<int>(n);
            fds[n++] = {pty_master, POLLIN, 0};
        }
        if (stdin_open && !exited) {
            stdin_i = static_cast<int>(n);
            fds[n++] = {0, POLLIN, 0};
        }
        // After the process exits, drain what the pty still holds, then stop.
        int r = ::poll(fds, n, exited ? 100 : -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_sys("poll");
        }
        if (r == 0) break;
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
                int sig = static_cast<int>(si.ssi_signo);
                if (sig == SIGCHLD) {
                    int st;
                    pid_t w;
                    // We may be a subreaper: reap every child, remember ours.
                    while ((w = ::waitpid(-1, &st, WNOHANG)) > 0)
                        if (w == pid) {
                            status = st;
                            exited = true;
                        }
                } else if (sig == SIGWINCH) {
                    if (pty_master >= 0) copy_winsize(0, pty_master);
                } else if (forwarded(sig)) {
                    ::kill(pid, sig);
                }
            }
        }
        if (master_i >= 0 && (fds[master_i].revents & (POLLIN | POLLHUP | POLLERR)))
            if (!copy(pty_master, 1)) master_open = false;
        if (stdin_i >= 0 && (fds[stdin_i].revents & (POLLIN | POLLHUP | POLLERR)))
            if (!copy(0, pty_master)) stdin_open = false;
        if (!exited) {
            // SIGCHLD may have been consumed by an earlier read: check directly as well.
            int st;
            if (::waitpid(pid, &st, WNOHANG) == pid) {
                status = st;
                exited = true;
            }
        }
    }
    if (raw) ::tcsetattr(0, TCSANOW, &saved);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

}  // namespace kiln::runtime
