// System calls that leave errno alone, returning the result or -errno: for a child that runs in
// memory it shares with the runtime (CLONE_VM) until it execs, where glibc's errno would be the
// runtime's own. Made directly on x86_64 and aarch64 (KILN_RAW_SYSCALL, raw_syscall.h);
// elsewhere through glibc's syscall(), for callers that fork instead of sharing memory.
#pragma once

#include <unistd.h>

#include <cerrno>

#include "core/sys/raw_syscall.h"

namespace kiln::sys {

template <class... T>
long raw(long n, T... args) noexcept {
    static_assert(sizeof...(T) <= 6, "a system call takes at most six arguments");
    long a[6] = {(long)args...};
#if KILN_RAW_SYSCALL
    return kiln_raw_syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
#else
    long r = ::syscall(n, a[0], a[1], a[2], a[3], a[4], a[5]);
    return r < 0 ? -errno : r;
#endif
}

}  // namespace kiln::sys
