// /proc readers and pidfd helpers.
#include "core/sys/proc.hpp"

#include <fcntl.h>
#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/sys/error.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char buf[1024];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    buf[n] = 0;
    // The command name may hold spaces and parentheses: fields resume after the last ')'.
    char* p = strrchr(buf, ')');
    if (!p) return std::nullopt;
    ProcStat st;
    p += 2;
    st.state = *p;
    // Fields after state: ppid(4) ... starttime(22). We are at field 3.
    int field = 3;
    char* save = nullptr;
    for (char* tok = strtok_r(p, " ", &save); tok; tok = strtok_r(nullptr, " ", &save), ++field) {
        if (field == 4) st.ppid = static_cast<pid_t>(strtol(tok, nullptr, 10));
        if (field == 22) {
            st.start_time = strtoull(tok, nullptr, 10);
            return st;
        }
    }
    return std::nullopt;
}

Fd open_process(pid_t pid, uint64_t start_time) {
    if (pid <= 0) return Fd();
    int fd = sys::pidfd_open(pid, 0);
    if (fd < 0) {
        if (errno == ESRCH) return Fd();
        throw_sys("pidfd_open", std::to_string(pid));
    }
    Fd pidfd(fd);
    // Checked after opening: if the pid is reused later, the pidfd still names our process.
    auto st = read_proc_stat(pid);
    if (!st || st->start_time != start_time) return Fd();
    return pidfd;
}

bool wait_pidfd_exit(int pidfd, int timeout_ms) {
    struct pollfd p = {pidfd, POLLIN, 0};
    for (;;) {
        int r = ::poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_sys("poll", "pidfd");
        return r > 0;
    }
}

}  // namespace kiln
