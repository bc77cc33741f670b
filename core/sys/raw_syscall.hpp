// System calls that leave errno alone, returning the result or -errno: for a child that runs in
// memory it shares with the runtime (CLONE_VM) until it execs, where glibc's errno would be the
// runtime's own. Made directly on x86_64 and aarch64 (KILN_RAW_SYSCALL); elsewhere through
// glibc's syscall(), for callers that fork instead of sharing memory.
#pragma once

#include <unistd.h>

#include <cerrno>

#if defined(__x86_64__) || defined(__aarch64__)
#define KILN_RAW_SYSCALL 1
#else
#define KILN_RAW_SYSCALL 0
#endif

namespace kiln::sys {

inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) noexcept {
#if defined(__x86_64__)
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#else
    long r = ::syscall(n, a, b, c, d, e, f);
    return r < 0 ? -errno : r;
#endif
}

template <class... T>
long raw(long n, T... args) noexcept {
    return raw_syscall(n, (long)args...);
}

}  // namespace kiln::sys
