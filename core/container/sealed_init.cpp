// The sealed memfd with the embedded kiln-init program.
#include "core/container/sealed_init.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

// Defined by kiln_init_blob.S, which includes the built kiln-init with .incbin.
extern "C" const char kiln_init_blob_start[];
extern "C" const char kiln_init_blob_end[];

namespace kiln::container {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

}  // namespace

int make_sealed_init() noexcept {
    // Kernels since 6.3 want memfd's exec permission said out loud.
    int fd = ::memfd_create("kiln-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) fd = ::memfd_create("kiln-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    const char* p = kiln_init_blob_start;
    size_t left = embedded_init_size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            ::close(fd);
            return -err;
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    if (::fcntl(fd, F_ADD_SEALS, kSeals) < 0) {
        int err = errno;
        ::close(fd);
        return -err;
    }
    return fd;
}

size_t embedded_init_size() noexcept { return static_cast<size_t>(kiln_init_blob_end - kiln_init_blob_start); }

}  // namespace kiln::container
