// The C library kiln-init is linked against instead of glibc: its entry point, the system calls
// it makes, string and formatting functions, and an allocator.
//
// kiln-init is executed for every container and every exec, from a sealed memfd copy the
// runtime writes each time. Static glibc would make that copy 800 KB, and its start-up probes
// the CPU's caches with dozens of `cpuid` instructions, each a trap to the hypervisor in a VM;
// with this file the program is a few dozen KB and starts with nothing to do. kiln-init is one
// thread, and makes its calls in order: no locking, no thread-safe errno, no buffered stdio.
//
// The functions keep glibc's signatures (its headers declare them) and its conventions: -1 and
// errno on failure.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/container/init_text.h"
#include "core/sys/raw_syscall.h"

// ---- entry point

int main(int argc, char** argv);

extern void (*__preinit_array_start[])(int, char**, char**) __attribute__((visibility("hidden")));
extern void (*__preinit_array_end[])(int, char**, char**) __attribute__((visibility("hidden")));
extern void (*__init_array_start[])(int, char**, char**) __attribute__((visibility("hidden")));
extern void (*__init_array_end[])(int, char**, char**) __attribute__((visibility("hidden")));

__attribute__((noreturn, used)) void kiln_init_start(long* sp) {
    int argc = (int)sp[0];
    char** argv = (char**)(sp + 1);
    char** envp = argv + argc + 1;
    for (void (**f)(int, char**, char**) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)(argc, argv, envp);
    for (void (**f)(int, char**, char**) = __init_array_start; f < __init_array_end; ++f) (*f)(argc, argv, envp);
    _exit(main(argc, argv));
}

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start,@function\n"
    "_start:\n"
    "    xor %rbp, %rbp\n"
    "    mov %rsp, %rdi\n"
    "    and $-16, %rsp\n"
    "    call kiln_init_start\n"
    "    hlt\n");
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start,%function\n"
    "_start:\n"
    "    mov x29, #0\n"
    "    mov x30, #0\n"
    "    mov x0, sp\n"
    "    bl kiln_init_start\n"
    "    brk #0\n");
#else
#error "kiln-init's own C library supports x86_64 and aarch64 (configure with KILN_FREESTANDING_INIT=OFF)"
#endif

// ---- system calls

static int g_errno;

int* __errno_location(void) { return &g_errno; }

// The kernel's -errno becomes -1 and errno.
static long check(long r) {
    if (r < 0 && r > -4096) {
        g_errno = (int)-r;
        return -1;
    }
    return r;
}

#define SC0(n) check(kiln_raw_syscall(n, 0, 0, 0, 0, 0, 0))
#define SC1(n, a) check(kiln_raw_syscall(n, (long)(a), 0, 0, 0, 0, 0))
#define SC2(n, a, b) check(kiln_raw_syscall(n, (long)(a), (long)(b), 0, 0, 0, 0))
#define SC3(n, a, b, c) check(kiln_raw_syscall(n, (long)(a), (long)(b), (long)(c), 0, 0, 0))
#define SC4(n, a, b, c, d) check(kiln_raw_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0))
#define SC5(n, a, b, c, d, e) check(kiln_raw_syscall(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0))

long syscall(long n, ...) {
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    return check(kiln_raw_syscall(n, a, b, c, d, e, f));
}

void _exit(int status) {
    for (;;) kiln_raw_syscall(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

ssize_t read(int fd, void* buf, size_t n) { return SC3(SYS_read, fd, buf, n); }
ssize_t write(int fd, const void* buf, size_t n) { return SC3(SYS_write, fd, buf, n); }
int close(int fd) { return (int)SC1(SYS_close, fd); }

// Whether open's mode argument was passed, as glibc decides it.
static bool needs_mode(int flags) { return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE; }

int openat(int dirfd, const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = needs_mode(flags) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return (int)SC4(SYS_openat, dirfd, path, flags, mode);
}

int open(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = needs_mode(flags) ? va_arg(ap, mode_t) : 0;
    va_end(ap);
    return openat(AT_FDCWD, path, flags, mode);
}

int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return (int)SC3(SYS_fcntl, fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    long arg = va_arg(ap, long);
    va_end(ap);
    return (int)SC3(SYS_ioctl, fd, request, arg);
}

int prctl(int option, ...) {
    va_list ap;
    va_start(ap, option);
    unsigned long a = va_arg(ap, unsigned long), b = va_arg(ap, unsigned long);
    unsigned long c = va_arg(ap, unsigned long), d = va_arg(ap, unsigned long);
    va_end(ap);
    return (int)SC5(SYS_prctl, option, a, b, c, d);
}

int dup2(int oldfd, int newfd) {
    if (oldfd == newfd) return fcntl(oldfd, F_GETFD) < 0 ? -1 : newfd;
    return (int)SC3(SYS_dup3, oldfd, newfd, 0);
}

int pipe2(int fds[2], int flags) { return (int)SC2(SYS_pipe2, fds, flags); }

int poll(struct pollfd* fds, nfds_t n, int timeout_ms) {
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000};
    return (int)SC5(SYS_ppoll, fds, n, timeout_ms < 0 ? NULL : &ts, NULL, 8);
}

int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
    return (int)SC4(SYS_newfstatat, dirfd, path, st, flags);
}
int stat(const char* path, struct stat* st) { return fstatat(AT_FDCWD, path, st, 0); }
int fstat(int fd, struct stat* st) { return fstatat(fd, "", st, AT_EMPTY_PATH); }

int fstatvfs(int fd, struct statvfs* out) {
    struct statfs s;
    if (SC2(SYS_fstatfs, fd, &s) < 0) return -1;
    memset(out, 0, sizeof *out);
    out->f_bsize = (unsigned long)s.f_bsize;
    out->f_frsize = (unsigned long)(s.f_frsize ? s.f_frsize : s.f_bsize);
    out->f_blocks = s.f_blocks;
    out->f_bfree = s.f_bfree;
    out->f_bavail = s.f_bavail;
    out->f_files = s.f_files;
    out->f_ffree = s.f_ffree;
    out->f_favail = s.f_ffree;
    memcpy(&out->f_fsid, &s.f_fsid, sizeof out->f_fsid < sizeof s.f_fsid ? sizeof out->f_fsid : sizeof s.f_fsid);
    // The kernel reports the mount flags (ST_RDONLY, ST_NOSUID, ...) with ST_VALID set.
    out->f_flag = (unsigned long)(s.f_flags & ~0x0020L);
    out->f_namemax = (unsigned long)s.f_namelen;
    return 0;
}

int mkdirat(int dirfd, const char* path, mode_t mode) { return (int)SC3(SYS_mkdirat, dirfd, path, mode); }
int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) {
    return (int)SC4(SYS_mknodat, dirfd, path, mode, dev);
}
int symlinkat(const char* target, int dirfd, const char* path) { return (int)SC3(SYS_symlinkat, target, dirfd, path); }
ssize_t readlinkat(int dirfd, const char* restrict path, char* restrict buf, size_t n) {
    return SC4(SYS_readlinkat, dirfd, path, buf, n);
}
int unlinkat(int dirfd, const char* path, int flags) { return (int)SC3(SYS_unlinkat, dirfd, path, flags); }
int unlink(const char* path) { return unlinkat(AT_FDCWD, path, 0); }
int fchmod(int fd, mode_t mode) { return (int)SC2(SYS_fchmod, fd, mode); }
int fchmodat(int dirfd, const char* path, mode_t mode, int flags) {
    if (flags) {  // glibc emulates AT_SYMLINK_NOFOLLOW; kiln-init never asks for it
        g_errno = EOPNOTSUPP;
        return -1;
    }
    return (int)SC3(SYS_fchmodat, dirfd, path, mode);
}
int fchown(int fd, uid_t uid, gid_t gid) { return (int)SC3(SYS_fchown, fd, uid, gid); }
int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) {
    return (int)SC5(SYS_fchownat, dirfd, path, uid, gid, flags);
}
ssize_t sendfile(int out, int in, off_t* offset, size_t n) { return SC4(SYS_sendfile, out, in, offset, n); }

int chdir(const char* path) { return (int)SC1(SYS_chdir, path); }
int fchdir(int fd) { return (int)SC1(SYS_fchdir, fd); }
int chroot(const char* path) { return (int)SC1(SYS_chroot, path); }
char* getcwd(char* buf, size_t n) { return SC2(SYS_getcwd, buf, n) < 0 ? NULL : buf; }
mode_t umask(mode_t mask) { return (mode_t)kiln_raw_syscall(SYS_umask, mask, 0, 0, 0, 0, 0); }

int mount(const char* source, const char* target, const char* type, unsigned long flags, const void* data) {
    return (int)SC5(SYS_mount, source, target, type, flags, data);
}
int umount2(const char* target, int flags) { return (int)SC2(SYS_umount2, target, flags); }

int setns(int fd, int type) { return (int)SC2(SYS_setns, fd, type); }
int unshare(int flags) { return (int)SC1(SYS_unshare, flags); }
int sethostname(const char* name, size_t n) { return (int)SC2(SYS_sethostname, name, n); }
int setdomainname(const char* name, size_t n) { return (int)SC2(SYS_setdomainname, name, n); }
int personality(unsigned long persona) { return (int)SC1(SYS_personality, persona); }
int setrlimit(__rlimit_resource_t resource, const struct rlimit* limit) {
    return (int)SC4(SYS_prlimit64, 0, resource, limit, NULL);
}
// One thread: no need for glibc's broadcast of the change to every thread.
int setgroups(size_t n, const gid_t* groups) { return (int)SC2(SYS_setgroups, n, groups); }
int setresuid(uid_t r, uid_t e, uid_t s) { return (int)SC3(SYS_setresuid, r, e, s); }
int setresgid(gid_t r, gid_t e, gid_t s) { return (int)SC3(SYS_setresgid, r, e, s); }
pid_t setsid(void) { return (pid_t)SC0(SYS_setsid); }
int kill(pid_t pid, int sig) { return (int)SC2(SYS_kill, pid, sig); }
pid_t waitpid(pid_t pid, int* status, int options) { return (pid_t)SC4(SYS_wait4, pid, status, options, NULL); }
int execve(const char* path, char* const argv[], char* const envp[]) {
    return (int)SC3(SYS_execve, path, argv, envp);
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
    return check(kiln_raw_syscall(SYS_recvfrom, fd, (long)buf, (long)n, flags, 0, 0));
}
ssize_t recvmsg(int fd, struct msghdr* msg, int flags) { return SC3(SYS_recvmsg, fd, msg, flags); }
ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) { return SC3(SYS_sendmsg, fd, msg, flags); }

// ---- signals: glibc's sigset_t is 1024 bits, the kernel's 64

#define KERNEL_SIGSET_BYTES 8

int sigemptyset(sigset_t* set) {
    memset(set, 0, sizeof *set);
    return 0;
}
int sigaddset(sigset_t* set, int sig) {
    if (sig < 1 || sig > 64) {
        g_errno = EINVAL;
        return -1;
    }
    ((uint64_t*)set)[0] |= 1ULL << (sig - 1);
    return 0;
}
int sigismember(const sigset_t* set, int sig) {
    if (sig < 1 || sig > 64) {
        g_errno = EINVAL;
        return -1;
    }
    return (((const uint64_t*)set)[0] >> (sig - 1)) & 1;
}
int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
    return (int)SC4(SYS_rt_sigprocmask, how, set, old, KERNEL_SIGSET_BYTES);
}
int sigtimedwait(const sigset_t* set, siginfo_t* info, const struct timespec* timeout) {
    return (int)SC4(SYS_rt_sigtimedwait, set, info, timeout, KERNEL_SIGSET_BYTES);
}

// ---- memory and strings

#if defined(__x86_64__)
void* memcpy(void* restrict dst, const void* restrict src, size_t n) {
    void* ret = dst;
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}
void* memset(void* dst, int c, size_t n) {
    void* ret = dst;
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}
#else
void* memcpy(void* restrict dst, const void* restrict src, size_t n) {
    unsigned char* d = dst;
    const unsigned char* s = src;
    while (n--) *d++ = *s++;
    return dst;
}
void* memset(void* dst, int c, size_t n) {
    unsigned char* d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}
#endif

void* memmove(void* dst, const void* src, size_t n) {
    unsigned char* d = dst;
    const unsigned char* s = src;
    if (d == s || n == 0) return dst;
    if (d < s || d >= s + n) return memcpy(dst, src, n);
    while (n--) d[n] = s[n];
    return dst;
}

int memcmp(const void* a, const void* b, size_t n) {
    const unsigned char* x = a;
    const unsigned char* y = b;
    for (; n; --n, ++x, ++y)
        if (*x != *y) return *x - *y;
    return 0;
}

size_t strlen(const char* s) {
    const char* p = s;
    while (*p) ++p;
    return (size_t)(p - s);
}

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n]) ++n;
    return n;
}

char* strchr(const char* s, int c) {
    for (;; ++s) {
        if (*s == (char)c) return (char*)s;
        if (!*s) return NULL;
    }
}

char* strrchr(const char* s, int c) {
    const char* found = NULL;
    for (;; ++s) {
        if (*s == (char)c) found = s;
        if (!*s) return (char*)found;
    }
}

int strncmp(const char* a, const char* b, size_t n) {
    for (; n; --n, ++a, ++b) {
        if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
        if (!*a) return 0;
    }
    return 0;
}

// ---- errno texts (generated from glibc's at build time)

#include "kiln_errno_text.inc"

const char* strerrordesc_np(int err) {
    if (err < 0 || (size_t)err >= sizeof kErrnoText / sizeof kErrnoText[0]) return NULL;
    return kErrnoText[err];
}

int strcmp(const char* a, const char* b) {
    for (; *a && *a == *b; ++a, ++b) {
    }
    return (unsigned char)*a - (unsigned char)*b;
}

char* strcpy(char* restrict dst, const char* restrict src) {
    char* d = dst;
    while ((*d++ = *src++)) {
    }
    return dst;
}

void* memchr(const void* s, int c, size_t n) {
    const unsigned char* p = s;
    for (; n; --n, ++p)
        if (*p == (unsigned char)c) return (void*)p;
    return NULL;
}

// What glibc's headers define inline, called out of line when the compiler does not inline
// (at -O0, or -Os).
int atoi(const char* s) { return (int)strtol(s, NULL, 10); }

struct cmsghdr* __cmsg_nxthdr(struct msghdr* msg, struct cmsghdr* c) {
    if ((size_t)c->cmsg_len < sizeof(struct cmsghdr)) return NULL;
    c = (struct cmsghdr*)((unsigned char*)c + CMSG_ALIGN(c->cmsg_len));
    unsigned char* end = (unsigned char*)msg->msg_control + msg->msg_controllen;
    if ((unsigned char*)(c + 1) > end || (unsigned char*)c + CMSG_ALIGN(c->cmsg_len) > end) return NULL;
    return c;
}

dev_t gnu_dev_makedev(unsigned int major, unsigned int minor) {
    return ((dev_t)(major & 0x00000fffu) << 8) | ((dev_t)(major & 0xfffff000u) << 32) |
           ((dev_t)(minor & 0x000000ffu) << 0) | ((dev_t)(minor & 0xffffff00u) << 12);
}
unsigned int gnu_dev_major(dev_t dev) {
    return (unsigned int)(((dev >> 8) & 0x00000fffu) | ((dev >> 32) & 0xfffff000u));
}
unsigned int gnu_dev_minor(dev_t dev) { return (unsigned int)((dev & 0x000000ffu) | ((dev >> 12) & 0xffffff00u)); }

// ---- formatting and numbers (init_text.c)

int vsnprintf(char* restrict buf, size_t cap, const char* restrict fmt, va_list ap) {
    return kiln_vformat(buf, cap, fmt, ap);
}

long strtol(const char* restrict s, char** restrict end, int base) {
    int err = 0;
    long v = kiln_strtol(s, end, base, &err);
    if (err) g_errno = err;
    return v;
}

int snprintf(char* restrict buf, size_t cap, const char* restrict fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}

// Where a failed assertion of the C++ library, or a failed allocation, ends up.
__attribute__((noreturn)) void kiln_init_abort(const char* what) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "kiln-init: %s\n", what);
    if (n > 0) write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    _exit(127);
}

// ---- allocation: a bump allocator; kiln-init allocates its plan once and then execs

static _Alignas(16) char g_arena[256 * 1024];
static char* g_top = g_arena;
static char* g_end = g_arena + sizeof g_arena;

void* kiln_init_alloc(size_t n) {
    if (n > ((size_t)1 << 40)) kiln_init_abort("out of memory");
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if ((size_t)(g_end - g_top) < n) {
        // A new chunk, at least 1 MiB; what was left of the old one is abandoned.
        size_t chunk = n > (1u << 20) ? n : (1u << 20);
        long p = kiln_raw_syscall(SYS_mmap, 0, (long)chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p < 0 && p > -4096) kiln_init_abort("out of memory");
        g_top = (char*)p;
        g_end = g_top + chunk;
    }
    void* r = g_top;
    g_top += n;
    return r;
}

void kiln_init_free(void* p, size_t n) {
    // Only the latest allocation is given back (a vector growing in place of its last buffer).
    n = (n + 15) & ~(size_t)15;
    if (p && (char*)p + n == g_top) g_top = p;
}

// C++ objects with static storage register their destructors here; kiln-init never runs them.
void* __dso_handle __attribute__((visibility("hidden"))) = &__dso_handle;
int __cxa_atexit(void (*fn)(void*), void* arg, void* dso) {
    (void)fn;
    (void)arg;
    (void)dso;
    return 0;
}
void __cxa_pure_virtual(void) { kiln_init_abort("pure virtual call"); }
