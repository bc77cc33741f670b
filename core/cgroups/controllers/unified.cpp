// linux.resources.unified: cgroup v2 files written as given, on v2 and hybrid hosts.
#include <string>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"

namespace kiln::cgroups::unified {

bool requested(const oci::Resources& r) { return !r.unified.empty(); }

void apply(const Target& t, const oci::Resources& r) {
    for (const auto& [key, value] : r.unified) {
        std::string field = "linux.resources.unified." + key;
        // A key names one file of the container's own cgroup, never a path elsewhere.
        if (key.empty() || key.find('/') != std::string::npos || key == "." || key == "..")
            throw Error(Errc::invalid_argument, field + ": not a cgroup file name");
        if (!t.exists(key)) {
            auto dot = key.find('.');
            std::string controller = key.substr(0, dot);
            unsupported(field, "no such cgroup v2 file; is the " + controller + " controller enabled on this host?");
        }
        t.write(key, value, field);
    }
}

}  // namespace kiln::cgroups::unified
