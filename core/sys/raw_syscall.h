/* A system call made directly, without glibc: the result, or -errno. For code in C and C++
 * alike: kiln-init's own C library (core/container/init_libc.c) and the runtime's child that
 * shares its memory until it execs (core/sys/raw_syscall.hpp). KILN_RAW_SYSCALL is 1 on the
 * architectures it knows (x86_64, aarch64). */
#pragma once

/* struct sigaction as rt_sigaction(2) takes it (glibc's differs): a 64-bit mask. */
struct kiln_kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long long mask;
};

#if defined(__x86_64__) || defined(__aarch64__)
#define KILN_RAW_SYSCALL 1

static inline long kiln_raw_syscall(long n, long a, long b, long c, long d, long e, long f) {
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
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#endif
}

#else
#define KILN_RAW_SYSCALL 0
#endif
