// The container's init, from clone to execve (the protocol is drawn in sync.hpp).
#include "core/container/init.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/container/process.hpp"
#include "core/container/rootfs.hpp"
#include "core/container/sync.hpp"
#include "core/oci/names.hpp"
#include "core/sys/socket.hpp"

namespace kiln::container {
namespace {

[[noreturn]] void report_and_exit(int sync_fd, const InitError& e) noexcept {
    sync_send(sync_fd, SyncType::error, e.err, 0, e.message, strnlen(e.message, sizeof e.message));
    _exit(1);
}

int expect(int sync_fd, SyncType type, void* payload, size_t cap, InitError* e) noexcept {
    int n = sync_expect(sync_fd, type, payload, cap);
    if (n < 0) return init_fail(e, -n, "waiting for %s from the runtime", sync_type_name(type));
    return n;
}

int become_root(InitError* e) noexcept {
    if (::setresgid(0, 0, 0) < 0) return init_fail(e, errno, "setresgid 0 in the new user namespace");
    if (::setresuid(0, 0, 0) < 0) return init_fail(e, errno, "setresuid 0 in the new user namespace");
    return 0;
}

int load_and_hand_over_seccomp(const ProcessPlan& p, int sync_fd, InitError* e) noexcept {
    int fd = load_seccomp(*p.seccomp);
    if (fd < 0) return init_fail(e, -fd, "linux.seccomp: load the filter");
    if (p.seccomp->new_listener) {
        SyncHeader h{SyncType::seccomp_fd, 0, 0, 0};
        int r = send_fd(sync_fd, fd, &h, sizeof h);
        ::close(fd);
        if (r < 0) return init_fail(e, -r, "linux.seccomp: send the listener fd to the runtime");
    }
    return 0;
}

// What init and exec do alike once the process's surroundings are ready: its attributes,
// no_new_privs, identity and seccomp filter each where it can be done, then the working
// directory, the executable and the fds. *seccomp_later: the filter is to be loaded last, right
// before execve.
int prepare_process(const ProcessPlan& p, int sync_fd, bool* seccomp_later, InitError* e) noexcept {
    if (apply_process_attributes(p, e) < 0) return -1;
    if (p.no_new_privileges && set_no_new_privileges(e) < 0) return -1;
    // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: before the caps go. With
    // it, as late as possible, so the filter sees few of our own calls; but a listener fd must
    // reach the runtime before it returns.
    bool now = p.seccomp && (!p.no_new_privileges || p.seccomp->new_listener);
    if (now && !p.no_new_privileges && load_and_hand_over_seccomp(p, sync_fd, e) < 0) return -1;
    if (apply_identity(p, e) < 0) return -1;
    if (now && p.no_new_privileges && load_and_hand_over_seccomp(p, sync_fd, e) < 0) return -1;
    if (enter_cwd(p, e) < 0 || find_executable(p, e) < 0 || prepare_fds(p.preserve_fds, e) < 0) return -1;
    *seccomp_later = p.seccomp && !now;
    return 0;
}

int init_body(const InitPlan& plan, int sync_fd, InitError* e) noexcept {
    const ProcessPlan& p = plan.process;
    int received = expect(sync_fd, SyncType::go, plan.hook_state.data(), plan.hook_state.size(), e);
    if (received < 0) return -1;
    // createContainer's state, a NUL, startContainer's.
    const char* create_state = plan.hook_state.data();
    size_t create_len = strnlen(create_state, static_cast<size_t>(received));
    const char* start_state = create_state + (create_len < static_cast<size_t>(received) ? create_len + 1 : create_len);
    size_t start_len = static_cast<size_t>(received) - static_cast<size_t>(start_state - create_state);

    if (plan.ns.new_user() && become_root(e) < 0) return -1;
    // The container must not share the caller's session keyring.
    if (!plan.session_keyring.empty() &&
        ::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, plan.session_keyring.c_str()) < 0 &&
        errno != ENOSYS)
        return init_fail(e, errno, "join a new session keyring");
    // Now that the runtime has moved us into the container's cgroup, that cgroup becomes the
    // root of the new cgroup namespace.
    if (plan.ns.new_cgroup() && ::unshare(CLONE_NEWCGROUP) < 0) return init_fail(e, errno, "unshare cgroup namespace");
    const RootfsPlan& r = plan.rootfs;
    if (r.set_hostname && ::sethostname(r.hostname.data(), r.hostname.size()) < 0)
        return init_fail(e, errno, "hostname: sethostname `%s`", r.hostname.c_str());
    if (r.set_domainname && ::setdomainname(r.domainname.data(), r.domainname.size()) < 0)
        return init_fail(e, errno, "domainname: setdomainname `%s`", r.domainname.c_str());

    ::umask(0);
    Os& os = linux_os();
    bool own_mounts = plan.ns.new_mount();
    if (own_mounts && prepare_rootfs(os, r, e) < 0) return -1;

    if (plan.runtime_hooks) {
        if (sync_send(sync_fd, SyncType::runtime_hooks) < 0) return init_fail(e, EPIPE, "runtime gone");
        if (expect(sync_fd, SyncType::hooks_done, nullptr, 0, e) < 0) return -1;
    }
    for (const auto& h : plan.create_container_hooks)
        if (run_hook(h, create_state, create_len, e) < 0) return -1;

    if (own_mounts && enter_rootfs(os, r, e) < 0) return -1;
    if (p.terminal) {
        if (setup_terminal(p, plan.console_socket, true, e) < 0) return -1;
    } else if (::setsid() < 0) {
        return init_fail(e, errno, "setsid");
    }
    if (plan.console_socket >= 0) ::close(plan.console_socket);
    if (own_mounts && finalize_rootfs(os, r, e) < 0) return -1;
    ::umask(p.umask.value_or(022));

    bool seccomp_later = false;
    if (prepare_process(p, sync_fd, &seccomp_later, e) < 0) return -1;

    if (sync_send(sync_fd, SyncType::created) < 0) return init_fail(e, EPIPE, "runtime gone");
    // `start` writes one byte into the exec fifo.
    char go;
    ssize_t n;
    do {
        n = ::read(plan.start_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(1);
    // Kept open until the exec closes it: a `start` waiting to run poststart hooks sees the
    // fifo hang up once the process runs (after the startContainer hooks), not before.
    ::fcntl(plan.start_fd, F_SETFD, FD_CLOEXEC);
    for (const auto& h : plan.start_container_hooks)
        if (run_hook(h, start_state, start_len, e) < 0) {
            // The runtime that could report this has gone; the container's stderr is left.
            ssize_t w = ::write(2, e->message, strnlen(e->message, sizeof e->message));
            (void)w;
            _exit(1);
        }
    if (seccomp_later && load_seccomp(*p.seccomp) < 0) _exit(1);
    ::close(sync_fd);
    reset_signals();
    exec_process(p);
}

}  // namespace

void init_main(const InitPlan& plan, int sync_fd) noexcept {
    InitError e;
    init_body(plan, sync_fd, &e);
    report_and_exit(sync_fd, e);
}

void exec_main(const ExecPlan& plan, int sync_fd) noexcept {
    const ProcessPlan& p = plan.process;
    int pidfd = plan.pidfd;
    int join_flags = plan.join_flags;
    int console_socket = plan.console_socket;
    InitError e;
    // Every namespace of the container at once (the kernel joins the user namespace first).
    if (join_flags && ::setns(pidfd, join_flags) < 0) {
        init_fail(&e, errno, "setns into the container's namespaces 0x%x", join_flags);
        report_and_exit(sync_fd, e);
    }
    ::close(pidfd);
    // pid and time namespaces apply to children: the process that runs is a child, made the
    // runtime's own (CLONE_PARENT) so that it can wait for it. Only this sealed program is ever
    // seen inside the container's pid namespace.
    if (join_flags & (CLONE_NEWPID | oci::kCloneNewTime)) {
        pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
        if (pid < 0) {
            init_fail(&e, errno, "clone into the container's pid namespace");
            report_and_exit(sync_fd, e);
        }
        if (pid > 0) {
            sync_send(sync_fd, SyncType::init_pid, 0, pid);
            _exit(0);
        }
    }
    if (expect(sync_fd, SyncType::go, nullptr, 0, &e) < 0) report_and_exit(sync_fd, e);
    if ((join_flags & CLONE_NEWUSER) && become_root(&e) < 0) report_and_exit(sync_fd, e);
    if (p.terminal) {
        if (setup_terminal(p, console_socket, false, &e) < 0) report_and_exit(sync_fd, e);
    } else if (::setsid() < 0 && errno != EPERM) {
        init_fail(&e, errno, "setsid");
        report_and_exit(sync_fd, e);
    }
    if (console_socket >= 0) ::close(console_socket);
    ::umask(p.umask.value_or(022));
    bool seccomp_later = false;
    if (prepare_process(p, sync_fd, &seccomp_later, &e) < 0) report_and_exit(sync_fd, e);
    if (seccomp_later) {
        int fd = load_seccomp(*p.seccomp);
        if (fd < 0) {
            init_fail(&e, -fd, "linux.seccomp: load the filter");
            report_and_exit(sync_fd, e);
        }
    }
    reset_signals();
    // The sync socket is close-on-exec: the runtime reads end-of-file once execve succeeded.
    ::execve(p.exec_path, p.argv.data(), p.envp.data());
    init_fail(&e, errno, "exec `%s`", p.exec_path);
    report_and_exit(sync_fd, e);
}

void stage1_main(const InitPlan& plan, int sync_fd) noexcept {
    InitError e;
    const NamespacePlan& ns = plan.ns;
    // A joined user namespace first: it decides what may be done with the others.
    for (const auto& j : ns.joins) {
        if (j.flag != CLONE_NEWUSER) continue;
        if (::setns(j.fd, j.flag) < 0) {
            init_fail(&e, errno, "linux.namespaces: setns user `%s`", j.path.c_str());
            report_and_exit(sync_fd, e);
        }
        // Our host ids mean nothing in there: files we create need a mapped owner.
        if (become_root(&e) < 0) report_and_exit(sync_fd, e);
    }
    for (const auto& j : ns.joins)
        if (j.flag != CLONE_NEWUSER && ::setns(j.fd, j.flag) < 0) {
            init_fail(&e, errno, "linux.namespaces: setns %s `%s`", j.type.c_str(), j.path.c_str());
            report_and_exit(sync_fd, e);
        }
    for (const auto& j : ns.joins) ::close(j.fd);
    if (ns.new_user()) {
        if (::unshare(CLONE_NEWUSER) < 0) {
            init_fail(&e, errno, "unshare user namespace");
            report_and_exit(sync_fd, e);
        }
        if (sync_send(sync_fd, SyncType::want_maps) < 0) _exit(1);
        if (expect(sync_fd, SyncType::maps_done, nullptr, 0, &e) < 0 || become_root(&e) < 0) report_and_exit(sync_fd, e);
    }
    // cgroup: after init has joined its cgroup. pid and time: they apply to children.
    int now = ns.new_flags & ~(CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWPID | oci::kCloneNewTime);
    if (now && ::unshare(now) < 0) {
        init_fail(&e, errno, "unshare namespaces 0x%x", now);
        report_and_exit(sync_fd, e);
    }
    int for_children = ns.new_flags & (CLONE_NEWPID | oci::kCloneNewTime);
    if (for_children && ::unshare(for_children) < 0) {
        init_fail(&e, errno, "unshare namespaces 0x%x", for_children);
        report_and_exit(sync_fd, e);
    }
    if (!ns.time_offsets.empty()) {
        // Not dumpable, /proc/self belongs to the host's root, whom the container's root is not:
        // dumpable for as long as the write takes.
        ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, ns.time_offsets.data(), ns.time_offsets.size()) < 0) {
            init_fail(&e, errno, "linux.timeOffsets: write /proc/self/timens_offsets");
            report_and_exit(sync_fd, e);
        }
        ::close(fd);
        ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    // CLONE_PARENT: init becomes the runtime's child, so `run` can wait for it.
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0));
    if (pid < 0) {
        init_fail(&e, errno, "clone init");
        report_and_exit(sync_fd, e);
    }
    if (pid == 0) init_main(plan, sync_fd);
    sync_send(sync_fd, SyncType::init_pid, 0, pid);
    _exit(0);
}

}  // namespace kiln::container
