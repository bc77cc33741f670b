// kiln-init: the program every process entering a container starts as. The runtime clones a
// child, which copies this program into a sealed memfd and execs it (sealed_init.hpp); it
// receives its plan and fds over the sync socket, moves itself into the container's cgroups and
// becomes the first stage, the container's init, or an exec'd process.
//
//   kiln-init init SYNC_FD      (create: stage 1 when namespaces are joined, else init)
//   kiln-init exec SYNC_FD      (exec into a running container)
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/container/init.hpp"
#include "core/container/plan_codec.hpp"
#include "core/container/sync.hpp"

using namespace kiln::container;

namespace {

[[noreturn]] void fail(int sync_fd, int err, const char* what) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "kiln-init: %s%s%s", what, err ? ": " : "", err ? strerrordesc_np(err) : "");
    sync_send(sync_fd, SyncType::error, err ? err : EPROTO, 0, msg, n > 0 ? static_cast<size_t>(n) : 0);
    _exit(1);
}

struct Received {
    std::string plan;
    std::vector<int> fds;
};

// The first message: the encoded plan, with the plan's fds attached. Its size is learnt first.
Received receive_plan(int sync_fd) {
    SyncHeader h;
    ssize_t size;
    do {
        size = ::recv(sync_fd, &h, sizeof h, MSG_PEEK | MSG_TRUNC);
    } while (size < 0 && errno == EINTR);
    if (size < static_cast<ssize_t>(sizeof h)) _exit(1);  // the runtime is gone
    Received r;
    r.plan.resize(static_cast<size_t>(size) - sizeof h);
    struct iovec iov[2] = {{&h, sizeof h}, {r.plan.data(), r.plan.size()}};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxPlanFds));
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    ssize_t n;
    do {
        n = ::recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) fail(sync_fd, errno, "receive the plan");
    if (h.type != SyncType::plan) fail(sync_fd, 0, "expected the plan from the runtime");
    if (msg.msg_flags & MSG_CTRUNC) fail(sync_fd, 0, "the plan's file descriptors were cut short");
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        r.fds.resize(count);
        memcpy(r.fds.data(), CMSG_DATA(c), count * sizeof(int));
    }
    return r;
}

// The fds arrived under new numbers: write them into the plan's slots. None may sit among the
// fds the container is to inherit (3 .. 3 + preserve_fds - 1), where a gap would let it through.
// The sync socket itself is moved the same way; its new number is returned.
template <class Plan>
int place_fds(int sync_fd, Plan& plan, const std::vector<int>& fds) {
    std::vector<int*> slots = fd_slots(plan);
    if (slots.size() != fds.size()) fail(sync_fd, 0, "the plan and its file descriptors do not match");
    if (plan.process.preserve_fds < 0 || plan.process.preserve_fds > kMaxPreserveFds)
        fail(sync_fd, 0, "preserve_fds out of range");
    int lowest = 3 + plan.process.preserve_fds;
    auto above = [&](int fd) {
        if (fd >= lowest) return fd;
        int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, lowest);
        if (moved < 0) fail(sync_fd, errno, "move a file descriptor");
        ::close(fd);
        return moved;
    };
    for (size_t i = 0; i < slots.size(); ++i) *slots[i] = above(fds[i]);
    return above(sync_fd);
}

// Moving itself into a v1 cgroup ("0" into `tasks`) spares the kernel the threadgroup lock that
// moving another process takes (see cgroups::Cgroup::JoinFds).
void join_cgroups(int sync_fd, const std::vector<int>& tasks) {
    for (int fd : tasks) {
        if (::write(fd, "0", 1) < 0) fail(sync_fd, errno, "join the container's cgroup");
        ::close(fd);
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Nothing in the container may ptrace this process or open its /proc files while it holds
    // the runtime's fds and its privileges; exec of the container's process resets this.
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (argc != 3) return 127;
    std::string mode = argv[1];
    int sync_fd = atoi(argv[2]);
    Received r = receive_plan(sync_fd);
    if (mode == "init") {
        auto plan = decode_init_plan(r.plan);
        if (!plan) fail(sync_fd, 0, "malformed plan");
        sync_fd = place_fds(sync_fd, *plan, r.fds);
        join_cgroups(sync_fd, plan->cgroup_tasks);
        if (plan->ns.two_stage) stage1_main(*plan, sync_fd);
        init_main(*plan, sync_fd);
    }
    if (mode == "exec") {
        auto plan = decode_exec_plan(r.plan);
        if (!plan) fail(sync_fd, 0, "malformed exec plan");
        sync_fd = place_fds(sync_fd, *plan, r.fds);
        join_cgroups(sync_fd, plan->cgroup_tasks);
        exec_main(*plan, sync_fd);
    }
    fail(sync_fd, 0, "unknown mode");
}
