// Parser for /proc/<pid>/mountinfo (proc(5)).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct MountInfo {
    int id = 0;
    int parent = 0;
    std::string root;         // the root of the mount within its filesystem
    std::string mount_point;  // relative to the process's root
    std::string options;      // per-mount options
    std::string optional;     // shared:N master:N ...
    std::string fstype;
    std::string source;
    std::string super_options;
};

std::vector<MountInfo> parse_mountinfo(std::string_view text);
std::vector<MountInfo> read_mountinfo(const std::string& path = "/proc/self/mountinfo");
// Undo the octal escapes (\040 for a space, ...) the kernel uses in mountinfo fields.
std::string unescape_mount_field(std::string_view field);

}  // namespace kiln
