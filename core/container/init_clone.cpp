// The clone of the child that becomes kiln-init (see init_clone.hpp).
#include "core/container/init_clone.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

#include "core/container/sealed_init.hpp"
#include "core/container/sync.hpp"
#include "core/sys/raw_syscall.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::container {
namespace {

// Everything the child reads, copied to the bottom of its own memory: the runtime's stack frame
// that described it is gone by the time the child runs.
struct ChildBlock {
    InitChildTask task;
    uint64_t handled_signals = 0;  // bit s-1: the runtime has a handler for signal s
    uint64_t mask = 0;             // the runtime's signal mask, restored before execveat
    char mode[16] = {};
    char sync_arg[16] = {};
    char name[16] = "kiln-init";
    char* argv[4] = {};
    char* envp[1] = {};
};

constexpr size_t kChildMemory = 64 * 1024;

size_t copy_text(char* out, size_t at, size_t cap, const char* s) {
    while (*s && at + 1 < cap) out[at++] = *s++;
    return at;
}

// Reports to the runtime and exits. The message is put together by hand: snprintf is not
// for a child in shared memory.
[[noreturn]] void child_fail(int sync_fd, long err, const char* what) noexcept {
    char msg[256];
    size_t n = copy_text(msg, 0, sizeof msg, what);
    n = copy_text(msg, n, sizeof msg, ": ");
    const char* text = strerrordesc_np(static_cast<int>(-err));
    n = copy_text(msg, n, sizeof msg, text ? text : "unknown error");
    SyncHeader h{SyncType::error, static_cast<int32_t>(-err), 0, static_cast<uint32_t>(n)};
    struct iovec iov[2] = {{&h, sizeof h}, {msg, n}};
    struct msghdr m = {};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    sys::raw(SYS_sendmsg, sync_fd, &m, MSG_NOSIGNAL);
    for (;;) sys::raw(SYS_exit_group, 1);
}

// Waits for one message of `type` from the runtime: 0, or -errno / -EPROTO.
long child_expect(int sync_fd, SyncType type) noexcept {
    SyncHeader h;
    long n;
    do {
        n = sys::raw(SYS_recvfrom, sync_fd, &h, sizeof h, 0, nullptr, nullptr);
    } while (n == -EINTR);
    if (n < 0) return n;
    if (n < static_cast<long>(sizeof h) || h.type != type) return -EPROTO;
    return 0;
}

int child_main(void* arg) noexcept {
    const ChildBlock& b = *static_cast<const ChildBlock*>(arg);
    const InitChildTask& t = b.task;
    // This child has its own signal dispositions, but the runtime's handlers would run here, on
    // memory the runtime is using: back to the defaults before any signal is let in.
    for (int s = 1; s <= 64; ++s) {
        if (!(b.handled_signals & (1ULL << (s - 1)))) continue;
        kiln_kernel_sigaction dfl = {SIG_DFL, 0, nullptr, 0};
        sys::raw(SYS_rt_sigaction, s, &dfl, nullptr, sizeof dfl.mask);
    }
    sys::raw(SYS_rt_sigprocmask, SIG_SETMASK, &b.mask, nullptr, sizeof b.mask);
    // The copy of kiln-init is made here, in the child: the runtime goes on with the cgroups
    // meanwhile.
    long program = t.program_fd >= 0 ? t.program_fd : make_sealed_init();
    if (program < 0) child_fail(t.sync_fd, program, "copy kiln-init into a sealed memfd");
    // In a new user namespace, an execve as an unmapped user would leave no capabilities:
    // first the maps, then root there.
    if (t.new_user) {
        if (child_expect(t.sync_fd, SyncType::maps_done) < 0) sys::raw(SYS_exit_group, 1);
        long r = sys::raw(SYS_setresgid, 0, 0, 0);
        if (r == 0) r = sys::raw(SYS_setresuid, 0, 0, 0);
        if (r < 0) child_fail(t.sync_fd, r, "setresuid 0 in the new user namespace (is root in linux.uidMappings?)");
    }
    if (t.unshare_flags) {
        long u = sys::raw(SYS_unshare, t.unshare_flags);
        if (u < 0) child_fail(t.sync_fd, u, "unshare the container's network namespace");
    }
    sys::raw(SYS_fcntl, t.sync_fd, F_SETFD, 0);
    long r = sys::raw(SYS_execveat, program, "", b.argv, b.envp, AT_EMPTY_PATH);
    child_fail(t.sync_fd, r, "execveat kiln-init");
}

}  // namespace

#if KILN_RAW_SYSCALL
// clone3 with CLONE_VM: the child starts on `stack` and calls fn(arg), then exits with its
// value. Returns the pid (or -errno) in the parent.
extern "C" long kiln_clone3_vm(struct clone_args* args, size_t size, int (*fn)(void*), void* arg);

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl kiln_clone3_vm\n"
    ".type kiln_clone3_vm,@function\n"
    "kiln_clone3_vm:\n"
    "    mov %rcx, %r8\n"  // arg and fn survive the system call in r8 and r9
    "    mov %rdx, %r9\n"
    "    mov $435, %eax\n"  // clone3
    "    syscall\n"
    "    test %rax, %rax\n"
    "    jnz 1f\n"
    "    xor %ebp, %ebp\n"
    "    mov %r8, %rdi\n"
    "    call *%r9\n"
    "    mov %eax, %edi\n"
    "    mov $231, %eax\n"  // exit_group
    "    syscall\n"
    "    hlt\n"
    "1:  ret\n"
    ".size kiln_clone3_vm, .-kiln_clone3_vm\n");
#else
__asm__(
    ".text\n"
    ".globl kiln_clone3_vm\n"
    ".type kiln_clone3_vm,%function\n"
    "kiln_clone3_vm:\n"
    "    mov x9, x2\n"  // the kernel keeps every register but x0 across the call
    "    mov x10, x3\n"
    "    mov x8, #435\n"  // clone3
    "    svc #0\n"
    "    cbnz x0, 1f\n"
    "    mov x29, #0\n"
    "    mov x0, x10\n"
    "    blr x9\n"
    "    mov x8, #94\n"  // exit_group
    "    svc #0\n"
    "    brk #0\n"
    "1:  ret\n"
    ".size kiln_clone3_vm, .-kiln_clone3_vm\n");
#endif
#endif

long clone_init_child(const InitChildTask& task, uint64_t flags, int cgroup_fd, InitChildStack& stack) noexcept {
    void* mem = ::mmap(nullptr, kChildMemory, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    InitChildStack owned;
    owned.base = mem;
    owned.size = kChildMemory;

    auto* b = new (mem) ChildBlock;
    b->task = task;
    copy_text(b->mode, 0, sizeof b->mode, task.mode);
    size_t n = 0;
    int v = task.sync_fd;
    char digits[12];
    size_t d = 0;
    do {
        digits[d++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v > 0 && d < sizeof digits);
    while (d > 0) b->sync_arg[n++] = digits[--d];
    b->argv[0] = b->name;
    b->argv[1] = b->mode;
    b->argv[2] = b->sync_arg;
    for (int s = 1; s <= 64; ++s) {
        kiln_kernel_sigaction old;
        if (sys::raw(SYS_rt_sigaction, s, nullptr, &old, sizeof old.mask) == 0 && old.handler != SIG_DFL &&
            old.handler != SIG_IGN)
            b->handled_signals |= 1ULL << (s - 1);
    }

    struct clone_args args = {};
    args.flags = flags | CLONE_VM;
    args.exit_signal = SIGCHLD;
    args.stack = reinterpret_cast<uint64_t>(mem);
    args.stack_size = kChildMemory;
    if (cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    // Nothing is delivered to the child until it has put its dispositions back to the defaults.
    uint64_t all = ~0ULL;
    sys::raw(SYS_rt_sigprocmask, SIG_SETMASK, &all, &b->mask, sizeof all);
#if KILN_RAW_SYSCALL
    long pid = kiln_clone3_vm(&args, sizeof args, child_main, b);
#else
    // Elsewhere the child is a copy of the runtime, as with fork.
    args.flags &= ~static_cast<uint64_t>(CLONE_VM);
    args.stack = 0;
    args.stack_size = 0;
    long pid = sys::raw(SYS_clone3, &args, sizeof args);
    if (pid == 0) child_main(b);
#endif
    sys::raw(SYS_rt_sigprocmask, SIG_SETMASK, &b->mask, nullptr, sizeof all);
    // The child's block lies below its stack: the stack grows down from the top.
    if (pid > 0) stack = std::move(owned);
    return pid;
}

InitChildStack::InitChildStack(InitChildStack&& other) noexcept
    : base(std::exchange(other.base, nullptr)), size(std::exchange(other.size, 0)) {}

InitChildStack& InitChildStack::operator=(InitChildStack&& other) noexcept {
    if (this != &other) {
        if (base) ::munmap(base, size);
        base = std::exchange(other.base, nullptr);
        size = std::exchange(other.size, 0);
    }
    return *this;
}

InitChildStack::~InitChildStack() {
    if (base) ::munmap(base, size);
}

}  // namespace kiln::container
