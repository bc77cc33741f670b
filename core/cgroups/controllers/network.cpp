// net_cls and net_prio (v1 only): a class id for traffic control, priorities per interface.
#include <string>

#include "core/cgroups/controller.hpp"

namespace kiln::cgroups {

namespace net_cls {
bool requested(const oci::Resources& r) { return r.network && r.network->class_id && *r.network->class_id != 0; }
void apply(const Target& t, const oci::Resources& r) {
    t.write("net_cls.classid", std::to_string(*r.network->class_id), "linux.resources.network.classID");
}
}  // namespace net_cls

namespace net_prio {
bool requested(const oci::Resources& r) { return r.network && !r.network->priorities.empty(); }
void apply(const Target& t, const oci::Resources& r) {
    const auto& list = r.network->priorities;
    for (size_t i = 0; i < list.size(); ++i)
        t.write("net_prio.ifpriomap", list[i].name + " " + std::to_string(list[i].priority),
                "linux.resources.network.priorities[" + std::to_string(i) + "]");
}
}  // namespace net_prio

}  // namespace kiln::cgroups
