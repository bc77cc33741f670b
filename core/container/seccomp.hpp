// linux.seccomp -> a classic BPF program, compiled with libseccomp in the runtime process before
// the container's init is cloned, and loaded by init with seccomp(2) (no allocation there).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "core/oci/spec.hpp"

namespace kiln::container {

struct SeccompProgram {
    std::vector<struct sock_filter> filter;
    unsigned flags = 0;             // SECCOMP_FILTER_FLAG_* passed to seccomp(SECCOMP_SET_MODE_FILTER)
    bool new_listener = false;      // an action is SCMP_ACT_NOTIFY: flags has NEW_LISTENER
    std::string listener_path;      // where the runtime sends the notify fd
    std::string listener_metadata;  // opaque, passed along with the state
};

// Errors (kiln::Error, invalid_argument) name the field: "linux.seccomp.syscalls[3].action:
// unknown action \"SCMP_ACT_FOO\"". Syscall names libseccomp does not know are skipped, as runc
// and crun do, so that one profile serves several kernels and architectures.
SeccompProgram compile_seccomp(const oci::Seccomp& seccomp);

// Installs the program in the calling thread. Returns the listener fd (>= 0) when the program has
// NEW_LISTENER, 0 otherwise, or -errno. Async-signal-safe.
int load_seccomp(const SeccompProgram& program) noexcept;

// For `features`.
std::vector<std::string> seccomp_known_actions();
std::vector<std::string> seccomp_known_operators();
std::vector<std::string> seccomp_known_architectures();
std::vector<std::string> seccomp_known_flags();
std::vector<std::string> seccomp_supported_flags();  // known flags the running kernel accepts

}  // namespace kiln::container
