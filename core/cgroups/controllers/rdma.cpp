// rdma: limits on RDMA/IB handles and objects per device (rdma.max in v1 and v2).
#include <string>

#include "core/cgroups/controller.hpp"

namespace kiln::cgroups::rdma {

bool requested(const oci::Resources& r) { return !r.rdma.empty(); }

void apply(const Target& t, const oci::Resources& r) {
    for (const auto& [device, limit] : r.rdma) {
        std::string line = device;
        line += " hca_handle=" + (limit.hca_handles ? std::to_string(*limit.hca_handles) : std::string("max"));
        line += " hca_object=" + (limit.hca_objects ? std::to_string(*limit.hca_objects) : std::string("max"));
        t.write("rdma.max", line, "linux.resources.rdma." + device);
    }
}

}  // namespace kiln::cgroups::rdma
