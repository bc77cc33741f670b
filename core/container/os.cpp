// Os on the real kernel: each call is the system call itself.
#include "core/container/os.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/sys/syscalls.hpp"

namespace kiln::container {
namespace {

class LinuxOs final : public Os {
public:
    int mount(const char* source, const char* target, const char* type, unsigned long flags,
              const char* data) override {
        return ::mount(source, target, type, flags, data);
    }
    int umount2(const char* target, int flags) override { return ::umount2(target, flags); }
    int openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) override {
        struct open_how how = {};
        how.flags = flags;
        how.mode = mode;
        how.resolve = resolve;
        return sys::openat2(dirfd, path, &how);
    }
    int openat(int dirfd, const char* path, int flags, mode_t mode) override {
        return ::openat(dirfd, path, flags, mode);
    }
    int close(int fd) override { return ::close(fd); }
    int mkdirat(int dirfd, const char* path, mode_t mode) override { return ::mkdirat(dirfd, path, mode); }
    int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) override {
        return ::mknodat(dirfd, path, mode, dev);
    }
    int symlinkat(const char* target, int dirfd, const char* path) override {
        return ::symlinkat(target, dirfd, path);
    }
    ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) override {
        return ::readlinkat(dirfd, path, buf, size);
    }
    int unlinkat(int dirfd, const char* path, int flags) override { return ::unlinkat(dirfd, path, flags); }
    ssize_t write(int fd, const void* data, size_t size) override { return ::write(fd, data, size); }
    int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) override {
        return ::fchownat(dirfd, path, uid, gid, flags);
    }
    int fchmodat(int dirfd, const char* path, mode_t mode) override { return ::fchmodat(dirfd, path, mode, 0); }
    int fstatat(int dirfd, const char* path, struct stat* st, int flags) override {
        return ::fstatat(dirfd, path, st, flags);
    }
    int pivot_root(const char* new_root, const char* put_old) override { return sys::pivot_root(new_root, put_old); }
    int chdir(const char* path) override { return ::chdir(path); }
    int fchdir(int fd) override { return ::fchdir(fd); }
    int chroot(const char* path) override { return ::chroot(path); }
    int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                      uint64_t propagation, int userns_fd) override {
        struct mount_attr attr = {};
        attr.attr_set = attr_set;
        attr.attr_clr = attr_clr;
        attr.propagation = propagation;
        attr.userns_fd = userns_fd < 0 ? 0 : static_cast<uint64_t>(userns_fd);
        return sys::mount_setattr(dirfd, path, flags, &attr);
    }
    int open_tree(int dirfd, const char* path, unsigned flags) override { return sys::open_tree(dirfd, path, flags); }
    int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                   unsigned flags) override {
        return sys::move_mount(from_dirfd, from_path, to_dirfd, to_path, flags);
    }
    int fstatfs_flags(int fd, unsigned long* flags) override {
        struct statvfs st;
        if (::fstatvfs(fd, &st) < 0) return -1;
        *flags = st.f_flag;
        return 0;
    }
};

// Constant-initialized: no guard variable, so init may call linux_os() after clone.
constinit LinuxOs g_linux_os;

}  // namespace

Os& linux_os() { return g_linux_os; }

}  // namespace kiln::container
