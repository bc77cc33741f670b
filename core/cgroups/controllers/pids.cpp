// pids: the number of tasks a container may hold (pids.max in v1 and v2).
#include <string>

#include "core/cgroups/controller.hpp"

namespace kiln::cgroups::pids {

// 0 is "not set" (Go callers send it), as in runc; -1 is "no limit".
bool requested(const oci::Resources& r) { return r.pids && r.pids->limit != 0; }

void apply(const Target& t, const oci::Resources& r) {
    int64_t limit = r.pids->limit;
    t.write("pids.max", limit <= 0 ? "max" : std::to_string(limit), "linux.resources.pids.limit");
}

}  // namespace kiln::cgroups::pids
