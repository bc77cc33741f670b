// config.json -> the plan init follows. Everything that can fail on bad input fails here, in the
// runtime process, with an error naming the field.
#include "core/container/plan.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core/container/mount_options.hpp"
#include "core/oci/names.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"

namespace kiln::container {

namespace {

std::string absolute_in_container(const std::string& p) { return p.empty() || p[0] != '/' ? "/" + p : p; }

}  // namespace

std::string map_text(const std::vector<oci::IdMapping>& maps) {
    std::string out;
    for (const auto& m : maps)
        out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
    return out;
}

NamespacePlan build_namespace_plan(const oci::Spec& spec) {
    NamespacePlan ns;
    for (const auto& n : spec.linux->namespaces) {
        int flag = *oci::namespace_flag(n.type);
        if (n.path.empty()) ns.new_flags |= flag;
        else ns.joins.push_back({n.type, flag, n.path, -1});
    }
    if (ns.new_user()) {
        ns.uid_map = map_text(spec.linux->uid_mappings);
        ns.gid_map = map_text(spec.linux->gid_mappings);
    }
    for (const auto& [clock, off] : spec.linux->time_offsets)
        ns.time_offsets += clock + " " + std::to_string(off.secs) + " " + std::to_string(off.nanosecs) + "\n";
    // Joining by path must come before creating (a new user namespace would not own the joined
    // ones), and pid and time namespaces only apply to children: both need a second stage.
    ns.two_stage = !ns.joins.empty() || !ns.time_offsets.empty();
    return ns;
}

namespace {

unsigned long propagation_flags(const std::string& name) {
    if (name == "private") return MS_PRIVATE;
    if (name == "rprivate") return MS_PRIVATE | MS_REC;
    if (name == "slave") return MS_SLAVE;
    if (name == "rslave") return MS_SLAVE | MS_REC;
    if (name == "shared") return MS_SHARED;
    if (name == "rshared") return MS_SHARED | MS_REC;
    if (name == "unbindable") return MS_UNBINDABLE;
    if (name == "runbindable") return MS_UNBINDABLE | MS_REC;
    return 0;
}

MountStep build_mount(const oci::Mount& m, size_t index, const PlanInputs& in, const NamespacePlan& ns) {
    MountStep step;
    step.field = "mounts[" + std::to_string(index) + "]";
    step.destination = absolute_in_container(m.destination);
    if (step.destination.find("/../") != std::string::npos || step.destination.ends_with("/.."))
        invalid(step.field + ".destination: must not contain \"..\": " + m.destination);
    MountOptions o = parse_mount_options(m.options, step.field + ".options");
    step.type = m.type;
    step.flags = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    step.bind = o.bind || m.type == "bind";
    step.recursive = o.recursive;
    step.propagation = o.propagation;
    step.attr_set = o.attr_set;
    step.attr_clr = o.attr_clr;
    step.idmap = o.idmap;
    step.idmap_recursive = o.idmap_recursive;
    step.data = o.data;
    step.tmpcopyup = o.tmpcopyup;
    if (o.tmpcopyup && m.type != "tmpfs") invalid(step.field + ".options: tmpcopyup needs a tmpfs mount");
    if (o.idmap && !step.bind) invalid(step.field + ".options: idmap needs a bind mount");
    if (o.flags & MS_REMOUNT) invalid(step.field + ".options: remount cannot create a mount");
    if (step.bind) {
        if (m.source.empty()) invalid(step.field + ".source: a bind mount needs a source");
        step.source = m.source[0] == '/' ? m.source : in.bundle + "/" + m.source;
        step.type.clear();
        // A bind from a path that does not exist fails later in init with a worse message.
        struct stat st;
        if (::stat(step.source.c_str(), &st) < 0)
            throw Error(Errc::invalid_argument,
                        step.field + ".source: " + step.source + ": " + std::strerror(errno));
    } else {
        if (m.type.empty()) invalid(step.field + ".type: is required for a mount that is not a bind mount");
        step.source = m.source.empty() ? m.type : m.source;
    }
    if (m.type == "cgroup") {
        if (in.cgroup_v2_host) {
            // With a cgroup namespace the kernel shows the container's own cgroup as the root.
            if (ns.new_cgroup()) {
                step.type = "cgroup2";
                step.source = "cgroup2";
            } else {
                step.type.clear();
                step.bind = true;
                step.recursive = true;
                step.source = in.cgroup_v2_dir;
            }
        } else {
            step.cgroup_tree = true;
            step.type = "tmpfs";
            step.source = "tmpfs";
            step.data = "mode=755";
        }
    }
    if (o.idmap) {
        if (m.uid_mappings.empty() != m.gid_mappings.empty())
            invalid(step.field + ": uidMappings and gidMappings go together");
        if (m.uid_mappings.empty() && !ns.new_user() && !ns.joined(CLONE_NEWUSER))
            invalid(step.field + ".options: idmap without mappings needs a user namespace for the container (a new one, or one joined by path)");
    }
    return step;
}

void add_device(std::vector<DeviceNode>& list, DeviceNode d) {
    for (auto& existing : list)
        if (existing.path == d.path) {
            existing = std::move(d);
            return;
        }
    list.push_back(std::move(d));
}

std::vector<DeviceNode> build_devices(const oci::Spec& spec, bool setup_dev) {
    std::vector<DeviceNode> out;
    if (setup_dev) {
        struct Default {
            const char* path;
            unsigned major, minor;
        };
        static const Default defaults[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
                                           {"/dev/random", 1, 8},  {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
        for (const auto& d : defaults)
            out.push_back({"default device", d.path, S_IFCHR | 0666, makedev(d.major, d.minor), 0, 0, false});
    }
    const auto& devices = spec.linux->devices;
    for (size_t i = 0; i < devices.size(); ++i) {
        const auto& d = devices[i];
        DeviceNode n;
        n.field = "linux.devices[" + std::to_string(i) + "]";
        n.path = d.path;
        mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
        n.mode = type | (d.file_mode ? (*d.file_mode & 07777) : 0666);
        if (d.type != "p") n.dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor));
        if (d.uid || d.gid) {
            n.chown = true;
            n.uid = d.uid.value_or(0);
            n.gid = d.gid.value_or(0);
        }
        add_device(out, std::move(n));
    }
    return out;
}

}  // namespace

Capabilities capability_masks(const oci::Capabilities& caps, const std::string& field) {
    auto mask = [&](const std::vector<std::string>& names, const char* set) {
        uint64_t m = 0;
        for (size_t i = 0; i < names.size(); ++i) {
            auto n = oci::capability_number(names[i]);
            if (!n)
                invalid(field + "." + set + "[" + std::to_string(i) + "]: unknown capability \"" + names[i] + "\"");
            m |= 1ULL << *n;
        }
        return m;
    };
    Capabilities c;
    c.bounding = mask(caps.bounding, "bounding");
    c.effective = mask(caps.effective, "effective");
    c.inheritable = mask(caps.inheritable, "inheritable");
    c.permitted = mask(caps.permitted, "permitted");
    c.ambient = mask(caps.ambient, "ambient");
    return c;
}

static int read_last_cap() {
    auto text = read_file_if_exists("/proc/sys/kernel/cap_last_cap");
    return text ? std::stoi(*text) : oci::last_known_capability();
}

ProcessPlan build_process_plan(const oci::Process& p, const oci::Spec* spec) {
    ProcessPlan out;
    out.args = p.args;
    out.env = p.env;
    for (const auto& e : p.env)
        if (e.rfind("PATH=", 0) == 0) out.path_env = e.substr(5);
    if (out.path_env.empty()) out.path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    out.cwd = p.cwd;
    out.uid = p.user.uid;
    out.gid = p.user.gid;
    out.additional_gids.assign(p.user.additional_gids.begin(), p.user.additional_gids.end());
    if (p.user.umask) out.umask = static_cast<mode_t>(*p.user.umask & 0777);
    if (p.capabilities) {
        out.caps = capability_masks(*p.capabilities, "process.capabilities");
        out.last_cap = read_last_cap();
        uint64_t all = out.caps->bounding | out.caps->effective | out.caps->inheritable | out.caps->permitted |
                       out.caps->ambient;
        for (int c = out.last_cap + 1; c < 64; ++c)
            if (all & (1ULL << c))
                invalid("process.capabilities: " + std::string(oci::capability_name(c)) +
                        " is not supported by this kernel");
        // The kernel raises an ambient capability only when it is permitted and inheritable.
        // runc's own default config lists ambient ones that are not inheritable, and runc
        // skips them: so do we (saying so in the debug log).
        uint64_t raisable = out.caps->ambient & out.caps->permitted & out.caps->inheritable;
        for (int c = 0; c < 64; ++c)
            if ((out.caps->ambient & ~raisable) & (1ULL << c))
                log::debug("process.capabilities.ambient: " + std::string(oci::capability_name(c)) +
                           " is not both permitted and inheritable; not raised");
        out.caps->ambient = raisable;
    }
    for (size_t i = 0; i < p.rlimits.size(); ++i) {
        RlimitStep r;
        r.type = p.rlimits[i].type;
        auto n = oci::rlimit_number(r.type);
        if (!n) invalid("process.rlimits[" + std::to_string(i) + "].type: unknown rlimit \"" + r.type + "\"");
        r.resource = *n;
        r.limit.rlim_cur = p.rlimits[i].soft;
        r.limit.rlim_max = p.rlimits[i].hard;
        out.rlimits.push_back(r);
    }
    out.no_new_privileges = p.no_new_privileges;
    out.oom_score_adj = p.oom_score_adj;
    if (p.io_priority) {
        int cls = p.io_priority->io_class == "IOPRIO_CLASS_RT" ? 1 : p.io_priority->io_class == "IOPRIO_CLASS_BE" ? 2 : 3;
        out.ioprio = (cls << 13) | p.io_priority->priority;
    }
    if (p.scheduler) {
        static const char* policies[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
                                         "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE"};
        static const char* flags[] = {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
                                      "SCHED_FLAG_KEEP_POLICY",   "SCHED_FLAG_KEEP_PARAMS",
                                      "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"};
        SchedAttr s;
        for (uint32_t i = 0; i < 7; ++i)
            if (p.scheduler->policy == policies[i]) s.policy = i;
        for (const auto& f : p.scheduler->flags)
            for (int i = 0; i < 7; ++i)
                if (f == flags[i]) s.flags |= 1ULL << i;
        s.nice = p.scheduler->nice.value_or(0);
        s.priority = static_cast<uint32_t>(p.scheduler->priority.value_or(0));
        s.runtime = p.scheduler->runtime.value_or(0);
        s.deadline = p.scheduler->deadline.value_or(0);
        s.period = p.scheduler->period.value_or(0);
        out.scheduler = s;
    }
    out.terminal = p.terminal;
    if (p.console_size) {
        out.console_height = static_cast<unsigned short>(p.console_size->height);
        out.console_width = static_cast<unsigned short>(p.console_size->width);
    }
    if (spec && spec->linux) {
        if (spec->linux->personality) {
            if (!spec->linux->personality->flags.empty())
                invalid("linux.personality.flags: no personality flags are supported");
            out.personality = spec->linux->personality->domain == "LINUX32" ? PER_LINUX32 : PER_LINUX;
        }
        if (spec->linux->seccomp) out.seccomp = compile_seccomp(*spec->linux->seccomp);
    }
    finalize_pointers(out);
    return out;
}

static std::vector<HookExec> build_hooks(const std::vector<oci::Hook>& hooks, const char* name) {
    std::vector<HookExec> out;
    for (size_t i = 0; i < hooks.size(); ++i) {
        HookExec h;
        h.field = std::string("hooks.") + name + "[" + std::to_string(i) + "]";
        h.path = hooks[i].path;
        h.args = hooks[i].args.empty() ? std::vector<std::string>{hooks[i].path} : hooks[i].args;
        h.env = hooks[i].env;
        h.timeout_s = hooks[i].timeout.value_or(0);
        out.push_back(std::move(h));
    }
    return out;
}

InitPlan build_init_plan(const oci::Spec& spec, const PlanInputs& in) {
    InitPlan plan;
    plan.ns = build_namespace_plan(spec);

    RootfsPlan& r = plan.rootfs;
    const std::string& root = spec.root->path;
    r.rootfs = root[0] == '/' ? root : in.bundle + "/" + root;
    struct stat st;
    if (::stat(r.rootfs.c_str(), &st) < 0)
        throw Error(Errc::invalid_argument, "root.path: " + r.rootfs + ": " + std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) invalid("root.path: " + r.rootfs + " is not a directory");
    r.readonly = spec.root->readonly;
    r.final_propagation = propagation_flags(spec.linux->rootfs_propagation);
    r.propagation = r.final_propagation ? r.final_propagation : (MS_SLAVE | MS_REC);
    r.no_pivot = in.no_pivot;
    bool dev_is_bind = false;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        MountStep step = build_mount(spec.mounts[i], i, in, plan.ns);
        if (step.destination == "/dev" && step.bind) dev_is_bind = true;
        r.mounts.push_back(std::move(step));
    }
    r.cgroup_mounts = in.cgroup_mounts;
    r.own_cgroupns = plan.ns.new_cgroup();
    r.setup_dev = !dev_is_bind;
    // mknod needs the initial user namespace: in a new or joined one, devices are bound.
    r.bind_devices = plan.ns.new_user() || oci::find_namespace(spec, "user") != nullptr;
    r.devices = build_devices(spec, r.setup_dev);
    r.masked_paths = spec.linux->masked_paths;
    r.readonly_paths = spec.linux->readonly_paths;
    r.hostname = spec.hostname;
    r.domainname = spec.domainname;
    r.set_hostname = !spec.hostname.empty();
    r.set_domainname = !spec.domainname.empty();
    for (const auto& [key, value] : spec.linux->sysctl) {
        std::string path = "/proc/sys/" + key;
        for (size_t i = 10; i < path.size(); ++i)
            if (path[i] == '.') path[i] = '/';
        r.sysctl.emplace_back(path, value);
    }
    r.cwd = spec.process->cwd;

    plan.process = build_process_plan(*spec.process, &spec);
    plan.process.preserve_fds = in.preserve_fds;
    if (plan.process.terminal && in.console_socket < 0)
        invalid("process.terminal: a terminal needs --console-socket when the runtime does not stay attached");
    plan.console_socket = in.console_socket;

    if (spec.hooks) {
        plan.create_container_hooks = build_hooks(spec.hooks->create_container, "createContainer");
        plan.start_container_hooks = build_hooks(spec.hooks->start_container, "startContainer");
        plan.runtime_hooks = !spec.hooks->prestart.empty() || !spec.hooks->create_runtime.empty();
        for (auto& h : plan.create_container_hooks) finalize_pointers(h);
        for (auto& h : plan.start_container_hooks) finalize_pointers(h);
    }
    return plan;
}

}  // namespace kiln::container
