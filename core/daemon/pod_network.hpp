// What kilnd does for a pod's network itself: the netns file under <runDir>/netns that holds the
// sandbox's network namespace for the network plugins, and the pod's /etc/resolv.conf and
// /etc/hosts, written from what the plugins report. Attaching is the plugins' work.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/daemon/pod_spec.hpp"

namespace kiln::daemon {

// <runDir>/netns made a mount point of its own with shared propagation, so that a netns file
// mounted later appears in the plugin containers that bind it (rslave), as `ip netns` does with
// /run/netns. Idempotent: true when it made the mount (a container that bound the directory
// before is no longer a slave of it, and must be started again to see new netns files).
bool prepare_netns_dir(const std::string& dir);
// Unmounts the directory again when no netns file is left in it (kilnd stopping with no pod
// running: a running plugin container is bound to this mount).
void release_netns_dir(const std::string& dir);

// Bind-mounts /proc/<pid>/ns/net at `path` (replacing a stale one). Throws SysError naming it.
void mount_netns(const std::string& path, pid_t pid);
// Unmounts and removes `path`; nothing when it is not there.
void unmount_netns(const std::string& path);

// Writes <dir>/resolv.conf and <dir>/hosts for a pod from its attachments (the network plugins'
// answers, each with "ips" and "dns"); with the host's network, copies of the host's files.
// Returns their paths.
std::pair<std::string, std::string> write_etc_files(const std::string& dir, const PodSpec& pod,
                                                    const nlohmann::json& attachments);

}  // namespace kiln::daemon
