// The sealed memfd with the embedded kiln-init program.
#include "core/container/sealed_init.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/sys/raw_syscall.hpp"

// Defined by kiln_init_blob.S, which includes the built kiln-init with .incbin.
extern "C" const char kiln_init_blob_start[];
extern "C" const char kiln_init_blob_end[];

namespace kiln::container {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

// Writes the whole program to `fd`: 0 or -errno.
int write_program(int fd) noexcept {
    const char* p = kiln_init_blob_start;
    size_t left = embedded_init_size();
    while (left > 0) {
        long n = sys::raw(SYS_write, fd, p, left);
        if (n == -EINTR) continue;
        if (n <= 0) return n < 0 ? static_cast<int>(n) : -EIO;
        p += n;
        left -= static_cast<size_t>(n);
    }
    return 0;
}

}  // namespace

int make_sealed_init() noexcept {
    // Kernels since 6.3 want memfd's exec permission said out loud.
    // Raw system calls: the child that makes the copy may share the runtime's memory (no errno).
    long fd = sys::raw(SYS_memfd_create, "kiln-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd == -EINVAL) fd = sys::raw(SYS_memfd_create, "kiln-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return static_cast<int>(fd);
    int ifd = static_cast<int>(fd);
    if (int err = write_program(ifd); err < 0) {
        sys::raw(SYS_close, ifd);
        return err;
    }
    if (long r = sys::raw(SYS_fcntl, ifd, F_ADD_SEALS, kSeals); r < 0) {
        sys::raw(SYS_close, ifd);
        return static_cast<int>(r);
    }
    return ifd;
}

bool memfd_exec_allowed() noexcept {
    static const bool allowed = [] {
        int fd = ::memfd_create("kiln-probe", MFD_CLOEXEC | MFD_EXEC);
        if (fd >= 0) ::close(fd);
        return fd >= 0 || errno != EACCES;  // EINVAL: a kernel from before the sysctl
    }();
    return allowed;
}

int make_unlinked_init(const char* dir) noexcept {
    // 0555: a container root that the host does not map must still be able to execute it.
    int fd = ::open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0555);
    if (fd < 0) return -errno;
    int err = write_program(fd);
    int ro = -1;
    if (err == 0) {
        // execve refuses a file open for writing: a read-only description of it instead.
        char path[40];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ro = ::open(path, O_RDONLY | O_CLOEXEC);
        if (ro < 0) err = -errno;
    }
    ::close(fd);
    return err < 0 ? err : ro;
}

size_t embedded_init_size() noexcept { return static_cast<size_t>(kiln_init_blob_end - kiln_init_blob_start); }

}  // namespace kiln::container
