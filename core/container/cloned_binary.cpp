// Re-exec from a sealed memfd copy of /proc/self/exe (as runc and crun do).
#include "core/container/cloned_binary.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::container {
namespace {

constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

}  // namespace

bool is_cloned_binary() {
    Fd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) return false;
    int seals = ::fcntl(self.get(), F_GET_SEALS);
    return seals >= 0 && (seals & kSeals) == kSeals;
}

void ensure_cloned_binary(char** argv, char** envp) {
    Fd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
    if (!self) throw_sys("open", "/proc/self/exe");
    int seals = ::fcntl(self.get(), F_GET_SEALS);
    if (seals >= 0 && (seals & kSeals) == kSeals) return;

    // Kernels since 6.3 want memfd's exec permission said out loud.
    int fd = ::memfd_create("kiln-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) fd = ::memfd_create("kiln-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) throw_sys("memfd_create", "kiln-runtime");
    Fd copy(fd);
    struct stat st;
    if (::fstat(self.get(), &st) < 0) throw_sys("fstat", "/proc/self/exe");
    off_t offset = 0;
    while (offset < st.st_size) {
        ssize_t n = ::sendfile(copy.get(), self.get(), &offset, static_cast<size_t>(st.st_size - offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_sys("sendfile", "/proc/self/exe to memfd");
        }
        if (n == 0) break;
    }
    if (::fcntl(copy.get(), F_ADD_SEALS, kSeals) < 0) throw_sys("fcntl", "F_ADD_SEALS");
    ::fexecve(copy.get(), argv, envp);
    throw_sys("fexecve", "sealed copy of /proc/self/exe");
}

}  // namespace kiln::container
