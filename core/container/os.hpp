// Every kernel call that builds a container's root filesystem goes through Os, so the mount,
// device and pivot logic runs in unit tests against a recording fake (youki's Syscall trait).
// Each call returns what the libc call would: -1 with errno set on failure.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>

namespace kiln::container {

class Os {
public:
    virtual ~Os() = default;
    virtual int mount(const char* source, const char* target, const char* type, unsigned long flags,
                      const char* data) = 0;
    virtual int umount2(const char* target, int flags) = 0;
    // openat2(2) with an open_how of flags, mode and resolve.
    virtual int openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) = 0;
    virtual int openat(int dirfd, const char* path, int flags, mode_t mode) = 0;
    virtual int close(int fd) = 0;
    virtual int mkdirat(int dirfd, const char* path, mode_t mode) = 0;
    virtual int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) = 0;
    virtual int symlinkat(const char* target, int dirfd, const char* path) = 0;
    virtual ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) = 0;
    virtual int unlinkat(int dirfd, const char* path, int flags) = 0;
    virtual ssize_t write(int fd, const void* data, size_t size) = 0;
    virtual int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) = 0;
    virtual int fchmodat(int dirfd, const char* path, mode_t mode) = 0;
    virtual int fstatat(int dirfd, const char* path, struct stat* st, int flags) = 0;
    virtual int pivot_root(const char* new_root, const char* put_old) = 0;
    virtual int chdir(const char* path) = 0;
    virtual int fchdir(int fd) = 0;
    virtual int chroot(const char* path) = 0;
    virtual int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                              uint64_t propagation, int userns_fd) = 0;
    virtual int open_tree(int dirfd, const char* path, unsigned flags) = 0;
    virtual int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                           unsigned flags) = 0;
    // statfs(2) f_flags (ST_RDONLY, ST_NOSUID, ...) of the mount holding `fd`.
    virtual int fstatfs_flags(int fd, unsigned long* flags) = 0;
};

// The real kernel.
Os& linux_os();

}  // namespace kiln::container
