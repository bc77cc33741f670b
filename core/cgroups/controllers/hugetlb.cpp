// hugetlb: huge page limits per page size (v1 hugetlb.<size>.limit_in_bytes, v2 hugetlb.<size>.max).
#include <string>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"

namespace kiln::cgroups::hugetlb {

bool requested(const oci::Resources& r) { return !r.hugepage_limits.empty(); }

void apply(const Target& t, const oci::Resources& r) {
    for (size_t i = 0; i < r.hugepage_limits.size(); ++i) {
        const auto& h = r.hugepage_limits[i];
        std::string field = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
        // Page sizes read like "2MB" or "1GB"; anything with a slash would leave the directory.
        bool valid = !h.page_size.empty() && h.page_size.find_first_of("/.") == std::string::npos;
        std::string file = "hugetlb." + h.page_size + (t.version == Version::v1 ? ".limit_in_bytes" : ".max");
        if (!valid || !t.exists(file))
            unsupported(field + ".pageSize", "the host has no huge pages of size \"" + h.page_size + "\"");
        t.write(file, std::to_string(h.limit), field + ".limit");
    }
}

}  // namespace kiln::cgroups::hugetlb
