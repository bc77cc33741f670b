// One container's cgroup: a directory in every hierarchy of the host's layout (v1, v2 or
// hybrid), its limits, its processes, freezing, and removal.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/cgroups/layout.hpp"
#include "core/oci/spec.hpp"
#include "core/sys/fd.hpp"

namespace kiln::cgroups {

struct Stats {
    uint64_t cpu_usage_ns = 0;
    uint64_t memory_usage = 0;
    std::optional<uint64_t> memory_limit;
    uint64_t pids_current = 0;
    std::optional<uint64_t> pids_limit;
};

class Cgroup {
public:
    // Resolves linux.cgroupsPath: an absolute path is taken within each hierarchy's root, a
    // relative one below the caller's own cgroup, given as the text of /proc/self/cgroup.
    Cgroup(Layout layout, const std::string& cgroups_path, const std::string& self_proc_cgroup);
    // The directories a state record saved (paths()).
    static Cgroup from_paths(Layout layout, const std::vector<std::string>& paths);

    // mkdir in every hierarchy (or only in those of one version). Returns the directories it
    // made (parents included), for remove_dirs; on failure, what it made is removed again.
    std::vector<std::string> create(std::optional<Version> only = std::nullopt);
    // Writes the limits of `resources`. Errors name the spec field, the file and errno; a
    // controller the host lacks is an error only when `resources` asks for it.
    void apply(const oci::Resources& resources);
    // Moves `pid` into the cgroup in every hierarchy.
    void add_process(pid_t pid);

    // For a child that joins by itself, without the runtime moving it: moving another process
    // takes the kernel's threadgroup lock for writing, which waits out an RCU grace period
    // (10-20 ms here, on a quarter of container starts). A task writing "0" to a v1 `tasks`
    // file moves only itself and skips that lock; in v2 clone3(CLONE_INTO_CGROUP) places the
    // child at fork time.
    struct JoinFds {
        std::vector<Fd> v1_tasks;  // opened for writing, one per v1 hierarchy
        Fd v2_dir;                 // the v2 directory, for CLONE_INTO_CGROUP
    };
    JoinFds open_for_join() const;
    // The v2 directory alone (empty when the host has no v2 hierarchy).
    Fd open_v2_dir() const;

    void freeze();
    void thaw();
    bool frozen() const;

    std::vector<pid_t> pids() const;
    // Whether a directory of this cgroup (of one version, or any) holds processes. Directories
    // in `fresh` (just made by create) are known to be empty and not read.
    bool populated(std::optional<Version> only = std::nullopt, const std::vector<std::string>& fresh = {}) const;
    // Signals every process of the cgroup; frozen meanwhile so none forks away.
    void signal_all(int sig);
    // Removes every directory, with any cgroups below it; retries briefly while exiting tasks are
    // still accounted. Tries every hierarchy before reporting the first failure.
    void destroy();

    Stats stats() const;

    std::vector<std::string> paths() const;
    const Layout& layout() const { return layout_; }

private:
    struct Dir {
        size_t hierarchy;  // index into layout_.hierarchies
        std::string path;
        std::string rel;   // path below the hierarchy's mount point, starting with '/'
    };

    Cgroup() = default;
    const Dir* dir_for(const Hierarchy* h) const;
    void enable_v2_controller(const Dir& dir, const std::string& controller);

    Layout layout_;
    std::vector<Dir> dirs_;
};

// Removes directories create() made, deepest first (empty ones only: rmdir).
void remove_dirs(const std::vector<std::string>& made);

}  // namespace kiln::cgroups
