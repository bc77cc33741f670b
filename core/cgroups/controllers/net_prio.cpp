// net_prio (v1 only): the priority of the container's traffic, per network interface.
#include <string>

#include "core/cgroups/controller.hpp"

namespace kiln::cgroups::net_prio {

bool requested(const oci::Resources& r) { return r.network && !r.network->priorities.empty(); }

void apply(const Target& t, const oci::Resources& r) {
    const auto& list = r.network->priorities;
    for (size_t i = 0; i < list.size(); ++i)
        t.write("net_prio.ifpriomap", list[i].name + " " + std::to_string(list[i].priority),
                "linux.resources.network.priorities[" + std::to_string(i) + "]");
}

}  // namespace kiln::cgroups::net_prio
