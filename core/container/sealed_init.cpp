// The sealed memfd with the embedded kiln-init program.
#include "core/container/sealed_init.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

// Defined by kiln_init_blob.S, which includes the built kiln-init with .incbin.
extern "C" const char kiln_init_blob_start[];
extern "C" const char kiln_init_blob_end[];

namespace kiln::container {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

int make_sealed_init() {
    // Kernels since 6.3 want memfd's exec permission said out loud.
    int fd = ::memfd_create("kiln-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) fd = ::memfd_create("kiln-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) throw_sys("memfd_create", "kiln-init");
    try {
        write_all(fd, std::string_view(kiln_init_blob_start, embedded_init_size()), "memfd kiln-init");
        if (::fcntl(fd, F_ADD_SEALS, kSeals) < 0) throw_sys("fcntl", "F_ADD_SEALS kiln-init");
    } catch (...) {
        ::close(fd);
        throw;
    }
    return fd;
}

}  // namespace

int sealed_init_fd() {
    static int fd = make_sealed_init();
    return fd;
}

size_t embedded_init_size() { return static_cast<size_t>(kiln_init_blob_end - kiln_init_blob_start); }

}  // namespace kiln::container
