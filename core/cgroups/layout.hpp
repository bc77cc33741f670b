// Where the host's cgroup controllers live: pure v1 (legacy), pure v2 (unified), or hybrid (v1
// controllers plus a cgroup2 mount, usually /sys/fs/cgroup/unified, holding the rest).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/sys/mountinfo.hpp"

namespace kiln::cgroups {

enum class Version { v1, v2 };
enum class Mode { legacy, hybrid, unified };

struct Hierarchy {
    Version version = Version::v1;
    std::string mount_point;               // e.g. /sys/fs/cgroup/memory
    std::string root;                      // the cgroup the mount shows as its root ("/" usually)
    std::vector<std::string> controllers;  // v1: from the mount options; v2: cgroup.controllers
    std::string name;                      // v1 named hierarchies (name=systemd)
    // Key used in /proc/<pid>/cgroup: "memory", "cpu,cpuacct", "name=systemd"; "" for v2.
    std::string proc_key;

    bool has(const std::string& controller) const;
};

struct Layout {
    Mode mode = Mode::legacy;
    std::vector<Hierarchy> hierarchies;

    // The hierarchy that holds a controller: the v1 one when it is mounted there, else the
    // unified hierarchy when its cgroup.controllers lists `v2_name` ("" for v1-only ones).
    const Hierarchy* find(const std::string& v1_name, const std::string& v2_name) const;
    const Hierarchy* find(const std::string& controller) const { return find(controller, controller); }
    const Hierarchy* unified() const;
};

// Builds the layout from mountinfo entries; a cgroup2 mount's controllers are read from its
// cgroup.controllers (the tests point mount points at a fake tree).
Layout detect_layout(const std::vector<MountInfo>& mounts);
Layout detect_layout();  // this process's view: /proc/self/mountinfo
// detect_layout(), read once per process: for a long-running one (kilnd), whose host's cgroup
// mounts do not change under it.
const Layout& host_layout();

// Parses /proc/<pid>/cgroup: pairs of (proc_key, path).
std::vector<std::pair<std::string, std::string>> parse_proc_cgroup(const std::string& text);

}  // namespace kiln::cgroups
