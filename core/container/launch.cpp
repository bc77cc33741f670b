// The runtime side of the sync protocol (drawn in sync.hpp).
#include "core/container/launch.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/container/init_clone.hpp"
#include "core/container/plan_codec.hpp"
#include "core/container/sealed_init.hpp"
#include "core/container/sync.hpp"
#include "core/oci/names.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::container {
namespace {

struct Message {
    SyncHeader header{};
    std::string payload;
    Fd fd;
};

// Reads one message, with an fd when one was passed (SCM_RIGHTS). End of file means the peer
// closed the socket: it exited, or (exec) it called execve.
bool receive(int sock, Message& m) {
    char buf[4096];
    struct iovec iov[2] = {{&m.header, sizeof m.header}, {buf, sizeof buf}};
    union {
        char control[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = u.control;
    msg.msg_controllen = sizeof u.control;
    ssize_t n;
    do {
        n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) throw_sys("recvmsg", "init sync socket");
    if (n == 0) return false;
    if (static_cast<size_t>(n) < sizeof m.header) throw Error(Errc::internal, "short message from init");
    size_t len = static_cast<size_t>(n) - sizeof m.header;
    m.payload.assign(buf, len < m.header.len ? len : m.header.len);
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof fd);
            m.fd.reset(fd);
        }
    }
    return true;
}

[[noreturn]] void fail_from(const Message& m) {
    throw Error(m.header.err == ENOENT || m.header.err == EACCES || m.header.err == EINVAL
                    ? Errc::invalid_argument
                    : Errc::failed_precondition,
                m.payload.empty() ? std::string("container init failed: ") + strerror(m.header.err) : m.payload);
}

Message expect(int sock, SyncType type, const char* waiting_for) {
    Message m;
    if (!receive(sock, m))
        throw Error(Errc::internal, std::string("container init exited while ") + waiting_for);
    if (m.header.type == SyncType::error) fail_from(m);
    if (m.header.type != type)
        throw Error(Errc::internal, std::string("unexpected ") + sync_type_name(m.header.type) + " from init while " +
                                        waiting_for);
    return m;
}

void send(int sock, SyncType type, const std::string& payload = {}) {
    int r = sync_send(sock, type, 0, 0, payload.data(), payload.size());
    if (r < 0) throw_sys(-r, "send", sync_type_name(type));
}

void write_id_maps(pid_t pid, const NamespacePlan& ns) {
    std::string base = "/proc/" + std::to_string(pid);
    try {
        write_existing(base + "/uid_map", ns.uid_map);
    } catch (const SysError& e) {
        throw Error(Errc::invalid_argument, "linux.uidMappings: " + std::string(e.what()));
    }
    try {
        write_existing(base + "/gid_map", ns.gid_map);
    } catch (const SysError& e) {
        throw Error(Errc::invalid_argument, "linux.gidMappings: " + std::string(e.what()));
    }
}

std::pair<Fd, Fd> sync_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) throw_sys("socketpair", "SOCK_SEQPACKET");
    return {Fd(sv[0]), Fd(sv[1])};
}

// Sends `payload` with `fds` attached (SCM_RIGHTS), as one message.
void send_with_fds(int sock, SyncType type, const std::string& payload, const std::vector<int>& fds) {
    if (fds.size() > kMaxPlanFds) throw Error(Errc::invalid_argument, "too many file descriptors for the container");
    SyncHeader h{type, 0, 0, static_cast<uint32_t>(payload.size())};
    struct iovec iov[2] = {{&h, sizeof h}, {const_cast<char*>(payload.data()), payload.size()}};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())));
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (!fds.empty()) {
        msg.msg_control = control.data();
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    while (::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
        if (errno != EINTR) throw_sys("sendmsg", sync_type_name(type));
}

template <class Plan>
std::vector<int> slot_values(Plan& plan) {
    std::vector<int> out;
    for (int* slot : fd_slots(plan)) out.push_back(*slot);
    return out;
}

}  // namespace

namespace {

// Where executable memfds are refused (vm.memfd_noexec=2), the copy of kiln-init is an unlinked
// file next to the runtime's own binary, on a filesystem that executes programs.
Fd unlinked_init_copy() {
    std::string dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
    int fd = make_unlinked_init(dir.c_str());
    if (fd < 0)
        throw_sys(-fd, "copy kiln-init", "an unlinked file in " + dir + " (executable memfds are refused: vm.memfd_noexec=2)");
    return Fd(fd);
}

}  // namespace

InitProcess::InitProcess(const char* mode, uint64_t flags, int cgroup_v2_dir, int child_unshares) {
    Fd unlinked_copy = memfd_exec_allowed() ? Fd() : unlinked_init_copy();
    auto [runtime_end, child_end] = sync_pair();
    InitChildTask task;
    task.mode = mode;
    task.sync_fd = child_end.get();
    task.program_fd = unlinked_copy ? unlinked_copy.get() : -1;
    task.new_user = flags & CLONE_NEWUSER;
    task.unshare_flags = child_unshares;
    long pid = clone_init_child(task, flags, cgroup_v2_dir, stack_);
    if (pid < 0) {
        char b[20];
        snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(flags));
        throw_sys(static_cast<int>(-pid), "clone3", std::string("flags 0x") + b);
    }
    pid_ = static_cast<pid_t>(pid);
    sock_ = std::move(runtime_end);
}

InitProcess::InitProcess(InitProcess&& other) noexcept
    : sock_(std::move(other.sock_)), pid_(std::exchange(other.pid_, 0)), stack_(std::move(other.stack_)) {}

InitProcess::~InitProcess() { reap(); }

void InitProcess::reap() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
}

InitProcess InitProcess::for_create(const NamespacePlan& ns, int cgroup_v2_dir) {
    // In one stage clone3 makes every namespace but two: the cgroup one, which init unshares once
    // it is in its cgroup, and the network one, the costliest to make, which the child makes
    // itself while the runtime goes on with the cgroups.
    uint64_t flags = ns.two_stage ? 0 : static_cast<uint64_t>(ns.new_flags & ~(CLONE_NEWCGROUP | CLONE_NEWNET));
    int child_unshares = !ns.two_stage && (ns.new_flags & CLONE_NEWNET) ? CLONE_NEWNET : 0;
    InitProcess p("init", flags, cgroup_v2_dir, child_unshares);
    if (!ns.two_stage && ns.new_user()) {
        write_id_maps(p.pid_, ns);
        send(p.sock_.get(), SyncType::maps_done);
    }
    return p;
}

InitProcess InitProcess::for_exec(int cgroup_v2_dir) { return InitProcess("exec", 0, cgroup_v2_dir, 0); }

pid_t InitProcess::create(InitPlan& plan, const LaunchCallbacks& cb) {
    int sock = sock_.get();
    send_with_fds(sock, SyncType::plan, encode(plan), slot_values(plan));
    pid_t pid = pid_;
    if (plan.ns.two_stage) {
        if (plan.ns.new_user()) {
            expect(sock, SyncType::want_maps, "joining namespaces");
            write_id_maps(pid, plan.ns);
            send(sock, SyncType::maps_done);
        }
        Message m = expect(sock, SyncType::init_pid, "creating namespaces");
        // Stage 1 is done; init (its CLONE_PARENT child) is ours now.
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = pid = m.header.pid;
    }
    send(sock, SyncType::go, plan.hook_state.empty() || !cb.init_hook_state ? "" : cb.init_hook_state(pid));
    for (;;) {
        Message m;
        if (!receive(sock, m)) throw Error(Errc::internal, "container init exited before it was created");
        switch (m.header.type) {
            case SyncType::runtime_hooks:
                if (cb.runtime_hooks) cb.runtime_hooks(pid);
                send(sock, SyncType::hooks_done);
                break;
            case SyncType::seccomp_fd:
                if (cb.seccomp_listener) cb.seccomp_listener(std::move(m.fd), pid);
                break;
            case SyncType::created:
                pid_ = 0;
                return pid;
            case SyncType::error:
                fail_from(m);
            default:
                throw Error(Errc::internal, std::string("unexpected ") + sync_type_name(m.header.type) + " from init");
        }
    }
}

pid_t InitProcess::exec(ExecPlan& plan, const LaunchCallbacks& cb) {
    int sock = sock_.get();
    send_with_fds(sock, SyncType::plan, encode(plan), slot_values(plan));
    pid_t pid = pid_;
    if (plan.join_flags & (CLONE_NEWPID | oci::kCloneNewTime)) {
        Message m = expect(sock, SyncType::init_pid, "joining the container's namespaces");
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        pid_ = pid = m.header.pid;
    }
    send(sock, SyncType::go);
    for (;;) {
        Message m;
        if (!receive(sock, m)) break;  // execve closed the socket
        if (m.header.type == SyncType::seccomp_fd) {
            if (cb.seccomp_listener) cb.seccomp_listener(std::move(m.fd), pid);
            continue;
        }
        if (m.header.type == SyncType::error) fail_from(m);
        throw Error(Errc::internal, std::string("unexpected ") + sync_type_name(m.header.type) + " from exec");
    }
    // End of file: execve succeeded (a failure would have sent ERROR first).
    pid_ = 0;
    return pid;
}

int namespaces_to_join(pid_t pid) {
    int flags = 0;
    for (const auto& type : oci::namespace_types()) {
        std::string name(oci::namespace_proc_name(type));
        struct stat mine, theirs;
        if (::stat(("/proc/self/ns/" + name).c_str(), &mine) < 0) continue;  // not supported here
        if (::stat(("/proc/" + std::to_string(pid) + "/ns/" + name).c_str(), &theirs) < 0)
            throw_sys("stat", "/proc/" + std::to_string(pid) + "/ns/" + name);
        if (mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev) flags |= *oci::namespace_flag(type);
    }
    return flags;
}

}  // namespace kiln::container
