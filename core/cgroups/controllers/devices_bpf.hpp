// The cgroup v2 device controller: device rules -> a BPF_PROG_TYPE_CGROUP_DEVICE program
// attached to the container's cgroup (v2 has no devices.allow file).
#pragma once

#include <linux/bpf.h>

#include <vector>

#include "core/oci/spec.hpp"

namespace kiln::cgroups {

// Rules are evaluated as the v1 devices controller would: later rules override earlier ones; a
// rule of type "a" (or empty) resets the policy to allow or deny every device, whatever its numbers
// and access. The default is that of the last "a" rule, and deny if there is none (as in runc).
// Throws Error(invalid_argument) naming linux.resources.devices[i] for a rule v1 cannot express.
std::vector<struct bpf_insn> build_device_program(const std::vector<oci::DeviceRule>& rules);

// Loads `program` and attaches it to the cgroup directory `cgroup_dirfd` with BPF_F_ALLOW_MULTI,
// then detaches any device program attached there before (so `update` replaces the rules).
// Throws kiln::SysError naming the bpf command on failure.
void attach_device_program(int cgroup_dirfd, const std::vector<struct bpf_insn>& program);

}  // namespace kiln::cgroups
