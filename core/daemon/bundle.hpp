// The OCI config kilnd hands to an app container's kiln-monitor: image defaults + the pod's
// request, joining the namespaces of the pod's sandbox by path.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/daemon/pod_spec.hpp"

namespace kiln::daemon {

// What an image contributes to a container (its config's Entrypoint, Cmd, ...).
struct ImageDefaults {
    std::vector<std::string> entrypoint, cmd, env;
    std::string working_dir, user, stop_signal;
};

struct ContainerParams {
    const PodSpec* pod = nullptr;
    const ContainerSpec* container = nullptr;
    ImageDefaults image;
    std::string rootfs;          // the mounted overlay
    pid_t sandbox_pid = 0;       // whose namespaces the container joins
    bool sandbox_userns = false; // the sandbox has a user namespace of its own: joined first
    std::string cgroups_path;
    // Host directory of each volume of the pod, by name.
    std::vector<std::pair<std::string, std::string>> volume_dirs;
    // Volumes bound idmapped through the pod's user namespace (its hostPath volumes, where
    // their filesystem allows), so that their files keep their owners inside.
    std::vector<std::string> idmapped_volumes;
    // The pod's /etc/resolv.conf and /etc/hosts (host files, bind-mounted); empty: the image's.
    std::string resolv_conf, hosts;
};

nlohmann::json container_config(const ContainerParams& p);

// process.args from the image's Entrypoint/Cmd and the request's command/args, Docker's rule:
// command replaces Entrypoint (and drops Cmd), args replace Cmd.
std::vector<std::string> container_args(const ImageDefaults& image, const ContainerSpec& c);
// "uid", "uid:gid", "name", "name:group" against the image's /etc/passwd and /etc/group
// (read below `rootfs`). Throws invalid_argument naming the user when it does not resolve.
std::pair<uid_t, gid_t> resolve_user(const std::string& user, const std::string& rootfs);

}  // namespace kiln::daemon
