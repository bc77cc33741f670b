// Messages over the runtime/init socketpair (see sync.hpp for the protocol).
#include "core/container/sync.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace kiln::container {

int sync_send(int fd, SyncType type, int err, int pid, const void* payload, size_t len) noexcept {
    SyncHeader h{type, err, pid, static_cast<uint32_t>(len)};
    struct iovec iov[2] = {{&h, sizeof h}, {const_cast<void*>(payload), len}};
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = len ? 2 : 1;
    for (;;) {
        if (::sendmsg(fd, &msg, MSG_NOSIGNAL) >= 0) return 0;
        if (errno != EINTR) return -errno;
    }
}

int sync_recv(int fd, SyncHeader* header, void* payload, size_t capacity) noexcept {
    char discard[1];
    struct iovec iov[2] = {{header, sizeof *header}, {capacity ? payload : discard, capacity ? capacity : 1}};
    struct msghdr msg = {};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    ssize_t n;
    do {
        n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if (n == 0) return -EPIPE;
    if (static_cast<size_t>(n) < sizeof *header) return -EBADMSG;
    if (msg.msg_flags & MSG_TRUNC) return -EMSGSIZE;  // never act on half a message
    size_t got = static_cast<size_t>(n) - sizeof *header;
    return static_cast<int>(got < header->len ? got : header->len);
}

int sync_expect(int fd, SyncType type, void* payload, size_t capacity) noexcept {
    SyncHeader h;
    int n = sync_recv(fd, &h, payload, capacity);
    if (n < 0) return n;
    if (h.type == SyncType::error) return h.err ? -h.err : -EIO;
    if (h.type != type) return -EPROTO;
    return n;
}

const char* sync_type_name(SyncType type) noexcept {
    switch (type) {
        case SyncType::go: return "GO";
        case SyncType::runtime_hooks: return "RUNTIME_HOOKS";
        case SyncType::hooks_done: return "HOOKS_DONE";
        case SyncType::seccomp_fd: return "SECCOMP_FD";
        case SyncType::created: return "CREATED";
        case SyncType::error: return "ERROR";
        case SyncType::want_maps: return "WANT_MAPS";
        case SyncType::maps_done: return "MAPS_DONE";
        case SyncType::init_pid: return "INIT_PID";
        case SyncType::plan: return "PLAN";
    }
    return "?";
}

}  // namespace kiln::container
