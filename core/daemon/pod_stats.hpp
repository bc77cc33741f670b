// A pod's resource use from its cgroups (v1, v2 or hybrid): GET /v1/pods/{name}/stats and the
// periodic stats kilnd hands the instrumentation plugins.
#pragma once

#include <nlohmann/json.hpp>

#include "core/cgroups/layout.hpp"
#include "core/daemon/pod_manager.hpp"

namespace kiln::daemon {

// {"cpuSeconds", "memoryBytes", "memoryLimitBytes", "pids", "pidsLimit"} of the cgroup at `path`
// (relative to each hierarchy's root), as far as the controllers are there.
nlohmann::json cgroup_stats(const cgroups::Layout& layout, const std::string& path);

// {"name", <the pod's cgroup_stats>, "containers": [{"name", "state", "restartCount", <its
// cgroup_stats while it runs>}]}
nlohmann::json pod_stats(const PodManager& pods, const PodRecord& pod, const cgroups::Layout& layout);

}  // namespace kiln::daemon
