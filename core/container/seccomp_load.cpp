// Installing a precompiled seccomp program: the part of seccomp that runs in the container's init.
#include <linux/seccomp.h>

#include <cerrno>

#include "core/container/seccomp.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::container {

int load_seccomp(const SeccompProgram& program) noexcept {
    if (program.filter.empty() || program.filter.size() > BPF_MAXINSNS) return -EINVAL;
    struct sock_fprog fprog = {};
    fprog.len = static_cast<unsigned short>(program.filter.size());
    fprog.filter = const_cast<struct sock_filter*>(program.filter.data());
    // Either no_new_privs or CAP_SYS_ADMIN is needed here: that is for the caller to arrange. A
    // flag the kernel refuses is an error, never retried without it (crun does retry).
    int rc = sys::seccomp(SECCOMP_SET_MODE_FILTER, program.flags, &fprog);
    if (rc < 0) return -errno;
    return (program.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? rc : 0;
}

}  // namespace kiln::container
