// net_cls (v1 only): a class id that traffic control and iptables can match the container by.
#include <string>

#include "core/cgroups/controller.hpp"

namespace kiln::cgroups::net_cls {

bool requested(const oci::Resources& r) { return r.network && r.network->class_id && *r.network->class_id != 0; }

void apply(const Target& t, const oci::Resources& r) {
    t.write("net_cls.classid", std::to_string(*r.network->class_id), "linux.resources.network.classID");
}

}  // namespace kiln::cgroups::net_cls
