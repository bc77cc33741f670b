// The MUSTs of runtime-spec 1.2 that a config must meet before a container is created.
#include <algorithm>
#include <set>

#include "core/oci/names.hpp"
#include "core/oci/spec.hpp"
#include "core/sys/error.hpp"

namespace kiln::oci {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) { invalid(path + ": " + what); }

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

bool is_supported_version(const std::string& v) {
    // 1.x, 1.x.y and pre-release/build suffixes (1.0.2-dev, 1.1.0+dev).
    if (v.size() < 3 || v[0] != '1' || v[1] != '.') return false;
    return v[2] >= '0' && v[2] <= '9';
}

void check_capability_set(const std::vector<std::string>& names, const std::string& path) {
    for (size_t i = 0; i < names.size(); ++i) {
        if (!capability_number(names[i]))
            fail(path + "[" + std::to_string(i) + "]", "unknown capability " + quoted(names[i]));
    }
}

void check_process(const Process& p, const std::string& path) {
    if (p.args.empty()) fail(path + ".args", "is required and must not be empty");
    if (p.cwd.empty() || p.cwd[0] != '/') fail(path + ".cwd", "must be an absolute path, got " + quoted(p.cwd));
    for (size_t i = 0; i < p.env.size(); ++i)
        if (p.env[i].find('=') == std::string::npos)
            fail(path + ".env[" + std::to_string(i) + "]", "expected KEY=VALUE, got " + quoted(p.env[i]));
    if (p.capabilities) {
        const auto& c = *p.capabilities;
        check_capability_set(c.bounding, path + ".capabilities.bounding");
        check_capability_set(c.effective, path + ".capabilities.effective");
        check_capability_set(c.inheritable, path + ".capabilities.inheritable");
        check_capability_set(c.permitted, path + ".capabilities.permitted");
        check_capability_set(c.ambient, path + ".capabilities.ambient");
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        std::string rp = path + ".rlimits[" + std::to_string(i) + "]";
        const auto& r = p.rlimits[i];
        if (!rlimit_number(r.type)) fail(rp + ".type", "unknown rlimit " + quoted(r.type));
        if (!seen.insert(r.type).second) fail(rp + ".type", "duplicate rlimit " + quoted(r.type));
        if (r.soft > r.hard) fail(rp, "soft limit " + std::to_string(r.soft) + " exceeds hard limit " + std::to_string(r.hard));
    }
    if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
        fail(path + ".oomScoreAdj", "must be between -1000 and 1000");
    if (p.io_priority) {
        static const std::set<std::string> classes = {"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"};
        if (!classes.count(p.io_priority->io_class))
            fail(path + ".ioPriority.class", "unknown class " + quoted(p.io_priority->io_class));
        if (p.io_priority->priority < 0 || p.io_priority->priority > 7)
            fail(path + ".ioPriority.priority", "must be between 0 and 7");
    }
    if (p.scheduler) {
        static const std::set<std::string> policies = {"SCHED_OTHER", "SCHED_FIFO",  "SCHED_RR",      "SCHED_BATCH",
                                                       "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};
        static const std::set<std::string> flags = {
            "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM",       "SCHED_FLAG_DL_OVERRUN",
            "SCHED_FLAG_KEEP_POLICY",   "SCHED_FLAG_KEEP_PARAMS",   "SCHED_FLAG_UTIL_CLAMP_MIN",
            "SCHED_FLAG_UTIL_CLAMP_MAX"};
        if (!policies.count(p.scheduler->policy))
            fail(path + ".scheduler.policy", "unknown policy " + quoted(p.scheduler->policy));
        for (size_t i = 0; i < p.scheduler->flags.size(); ++i)
            if (!flags.count(p.scheduler->flags[i]))
                fail(path + ".scheduler.flags[" + std::to_string(i) + "]", "unknown flag " + quoted(p.scheduler->flags[i]));
    }
}

bool has_new_namespace(const Spec& spec, const std::string& type) {
    const Namespace* ns = find_namespace(spec, type);
    return ns && ns->path.empty();
}

void check_sysctl(const Spec& spec) {
    for (const auto& [key, value] : spec.linux->sysctl) {
        std::string path = "linux.sysctl." + key;
        static const std::set<std::string> ipc_keys = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                                       "kernel.sem",    "kernel.shmall", "kernel.shmmax",
                                                       "kernel.shmmni", "kernel.shm_rmid_forced"};
        const char* ns = nullptr;
        if (ipc_keys.count(key) || key.rfind("fs.mqueue.", 0) == 0) ns = "ipc";
        else if (key.rfind("net.", 0) == 0) ns = "network";
        else if (key == "kernel.hostname" || key == "kernel.domainname") ns = "uts";
        if (!ns) fail(path, "is not a namespaced sysctl: setting it would change the host");
        if (!has_namespace(spec, ns))
            fail(path, std::string("requires a ") + ns + " namespace of the container's own");
        if (key.find("..") != std::string::npos || key.find('/') != std::string::npos)
            fail(path, "is not a valid sysctl name");
    }
}

void check_linux(const Spec& spec) {
    const Linux& l = *spec.linux;
    std::set<std::string> seen;
    for (size_t i = 0; i < l.namespaces.size(); ++i) {
        std::string p = "linux.namespaces[" + std::to_string(i) + "]";
        const auto& ns = l.namespaces[i];
        if (!namespace_flag(ns.type)) fail(p + ".type", "unknown namespace type " + quoted(ns.type));
        if (!seen.insert(ns.type).second) fail(p + ".type", "duplicate namespace " + quoted(ns.type));
        if (!ns.path.empty() && ns.path[0] != '/') fail(p + ".path", "must be an absolute path");
    }
    bool new_user = has_new_namespace(spec, "user");
    if ((!l.uid_mappings.empty() || !l.gid_mappings.empty()) && !new_user)
        fail("linux.uidMappings", "user namespace mappings need a new user namespace in linux.namespaces");
    if (new_user && (l.uid_mappings.empty() || l.gid_mappings.empty()))
        fail("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");
    if (!spec.hostname.empty() && !has_namespace(spec, "uts"))
        fail("hostname", "setting the hostname requires a uts namespace of the container's own");
    if (!spec.domainname.empty() && !has_namespace(spec, "uts"))
        fail("domainname", "setting the domainname requires a uts namespace of the container's own");
    check_sysctl(spec);

    static const std::set<std::string> propagations = {"",        "private", "rprivate", "slave",      "rslave",
                                                       "shared",  "rshared", "unbindable", "runbindable"};
    if (!propagations.count(l.rootfs_propagation))
        fail("linux.rootfsPropagation", "unknown propagation " + quoted(l.rootfs_propagation));

    for (size_t i = 0; i < l.devices.size(); ++i) {
        std::string p = "linux.devices[" + std::to_string(i) + "]";
        const auto& d = l.devices[i];
        if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
            fail(p + ".type", "expected one of c, b, u, p, got " + quoted(d.type));
        if (d.path.empty() || d.path[0] != '/') fail(p + ".path", "must be an absolute path");
        if (d.path.find("/../") != std::string::npos || d.path.ends_with("/.."))
            fail(p + ".path", "must not contain ..");
    }
    if (l.resources) {
        for (size_t i = 0; i < l.resources->devices.size(); ++i) {
            std::string p = "linux.resources.devices[" + std::to_string(i) + "]";
            const auto& d = l.resources->devices[i];
            if (!d.type.empty() && d.type != "a" && d.type != "c" && d.type != "b")
                fail(p + ".type", "expected one of a, c, b, got " + quoted(d.type));
            if (d.access.find_first_not_of("rwm") != std::string::npos)
                fail(p + ".access", "expected a combination of r, w and m, got " + quoted(d.access));
        }
    }
    if (l.personality && l.personality->domain != "LINUX" && l.personality->domain != "LINUX32")
        fail("linux.personality.domain", "expected LINUX or LINUX32, got " + quoted(l.personality->domain));
    if (!l.time_offsets.empty()) {
        if (!has_new_namespace(spec, "time"))
            fail("linux.timeOffsets", "time offsets need a new time namespace in linux.namespaces");
        for (const auto& [clock, off] : l.time_offsets) {
            if (clock != "monotonic" && clock != "boottime")
                fail("linux.timeOffsets." + clock, "expected monotonic or boottime");
            if (off.nanosecs >= 1000000000u) fail("linux.timeOffsets." + clock + ".nanosecs", "must be below 1e9");
        }
    }
    auto check_paths = [](const std::vector<std::string>& paths, const std::string& name) {
        for (size_t i = 0; i < paths.size(); ++i)
            if (paths[i].empty() || paths[i][0] != '/')
                fail(name + "[" + std::to_string(i) + "]", "must be an absolute path, got " + quoted(paths[i]));
    };
    check_paths(l.masked_paths, "linux.maskedPaths");
    check_paths(l.readonly_paths, "linux.readonlyPaths");
}

void check_hooks(const Hooks& hooks) {
    auto check = [](const std::vector<Hook>& list, const std::string& name) {
        for (size_t i = 0; i < list.size(); ++i) {
            std::string p = "hooks." + name + "[" + std::to_string(i) + "]";
            if (list[i].path.empty() || list[i].path[0] != '/') fail(p + ".path", "must be an absolute path");
            if (list[i].timeout && *list[i].timeout <= 0) fail(p + ".timeout", "must be greater than zero");
        }
    };
    check(hooks.prestart, "prestart");
    check(hooks.create_runtime, "createRuntime");
    check(hooks.create_container, "createContainer");
    check(hooks.start_container, "startContainer");
    check(hooks.poststart, "poststart");
    check(hooks.poststop, "poststop");
}

}  // namespace

void validate_spec(const Spec& spec) {
    if (!is_supported_version(spec.oci_version))
        fail("ociVersion", "unsupported version " + quoted(spec.oci_version) + ": this runtime supports 1.x");
    if (!spec.root || spec.root->path.empty()) fail("root.path", "is required");
    if (!spec.process) fail("process", "is required");
    check_process(*spec.process, "process");
    for (size_t i = 0; i < spec.mounts.size(); ++i)
        if (spec.mounts[i].destination.empty())
            fail("mounts[" + std::to_string(i) + "].destination", "must not be empty");
    if (spec.hooks) check_hooks(*spec.hooks);
    if (!spec.linux) fail("linux", "is required on Linux");
    check_linux(spec);
}

}  // namespace kiln::oci
