// cpuset: the CPUs and memory nodes a container may use (same files in v1 and v2).
#include <string>

#include "core/cgroups/controller.hpp"
#include "core/sys/file.hpp"

namespace kiln::cgroups::cpuset {

bool requested(const oci::Resources& r) { return r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty()); }

void apply(const Target& t, const oci::Resources& r) {
    if (!r.cpu->cpus.empty()) t.write("cpuset.cpus", r.cpu->cpus, "linux.resources.cpu.cpus");
    if (!r.cpu->mems.empty()) t.write("cpuset.mems", r.cpu->mems, "linux.resources.cpu.mems");
}

void init_v1(const std::string& parent_dir, const std::string& dir) {
    for (const char* name : {"cpuset.cpus", "cpuset.mems"}) {
        std::string mine = read_file(dir + "/" + name);
        if (mine != "\n" && !mine.empty()) continue;
        std::string parent = read_file(parent_dir + "/" + name);
        write_existing(dir + "/" + name, parent);
    }
}

}  // namespace kiln::cgroups::cpuset
