// Raw system calls that glibc 2.36 does not wrap, as inline functions returning -1 and errno.
#pragma once

#include <linux/mount.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace kiln::sys {

inline long clone3(struct clone_args* args) { return ::syscall(SYS_clone3, args, sizeof(*args)); }

inline int pidfd_open(pid_t pid, unsigned flags = 0) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags));
}

inline int pidfd_send_signal(int pidfd, int sig) {
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

inline int pivot_root(const char* new_root, const char* put_old) {
    return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

inline int openat2(int dirfd, const char* path, struct open_how* how) {
    return static_cast<int>(::syscall(SYS_openat2, dirfd, path, how, sizeof(*how)));
}

inline int open_tree(int dirfd, const char* path, unsigned flags) {
    return static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags));
}

inline int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                      unsigned flags) {
    return static_cast<int>(::syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

inline int mount_setattr(int dirfd, const char* path, unsigned flags, struct mount_attr* attr) {
    return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof(*attr)));
}

inline int close_range(unsigned first, unsigned last, unsigned flags) {
    return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}

inline int seccomp(unsigned op, unsigned flags, void* args) {
    return static_cast<int>(::syscall(SYS_seccomp, op, flags, args));
}

inline int ioprio_set(int which, int who, int ioprio) {
    return static_cast<int>(::syscall(SYS_ioprio_set, which, who, ioprio));
}

}  // namespace kiln::sys
