// config.json <-> kiln::oci::Spec, with the JSON names of runtime-spec 1.2.
#include "core/oci/spec.hpp"

#include "core/oci/json_fields.hpp"

namespace kiln::oci {

KILN_JSON_FIELDS(IdMapping) {
    v.req("containerID", s.container_id);
    v.req("hostID", s.host_id);
    v.req("size", s.size);
}

KILN_JSON_FIELDS(User) {
    v.req("uid", s.uid);
    v.req("gid", s.gid);
    v("umask", s.umask);
    v("additionalGids", s.additional_gids);
    v("username", s.username);
}

KILN_JSON_FIELDS(ConsoleSize) {
    v.req("height", s.height);
    v.req("width", s.width);
}

KILN_JSON_FIELDS(Capabilities) {
    v("bounding", s.bounding);
    v("effective", s.effective);
    v("inheritable", s.inheritable);
    v("permitted", s.permitted);
    v("ambient", s.ambient);
}

KILN_JSON_FIELDS(Rlimit) {
    v.req("type", s.type);
    v.req("hard", s.hard);
    v.req("soft", s.soft);
}

KILN_JSON_FIELDS(IoPriority) {
    v.req("class", s.io_class);
    v("priority", s.priority);
}

KILN_JSON_FIELDS(Scheduler) {
    v.req("policy", s.policy);
    v("nice", s.nice);
    v("priority", s.priority);
    v("flags", s.flags);
    v("runtime", s.runtime);
    v("deadline", s.deadline);
    v("period", s.period);
}

KILN_JSON_FIELDS(Process) {
    v("terminal", s.terminal);
    v("consoleSize", s.console_size);
    v.req("user", s.user);
    v("args", s.args);
    v("env", s.env);
    v.req("cwd", s.cwd);
    v("capabilities", s.capabilities);
    v("rlimits", s.rlimits);
    v("noNewPrivileges", s.no_new_privileges);
    v("apparmorProfile", s.apparmor_profile);
    v("oomScoreAdj", s.oom_score_adj);
    v("selinuxLabel", s.selinux_label);
    v("ioPriority", s.io_priority);
    v("scheduler", s.scheduler);
}

KILN_JSON_FIELDS(Root) {
    v.req("path", s.path);
    v("readonly", s.readonly);
}

KILN_JSON_FIELDS(Mount) {
    v.req("destination", s.destination);
    v("type", s.type);
    v("source", s.source);
    v("options", s.options);
    v("uidMappings", s.uid_mappings);
    v("gidMappings", s.gid_mappings);
}

KILN_JSON_FIELDS(Hook) {
    v.req("path", s.path);
    v("args", s.args);
    v("env", s.env);
    v("timeout", s.timeout);
}

KILN_JSON_FIELDS(Hooks) {
    v("prestart", s.prestart);
    v("createRuntime", s.create_runtime);
    v("createContainer", s.create_container);
    v("startContainer", s.start_container);
    v("poststart", s.poststart);
    v("poststop", s.poststop);
}

KILN_JSON_FIELDS(Namespace) {
    v.req("type", s.type);
    v("path", s.path);
}

KILN_JSON_FIELDS(Device) {
    v.req("type", s.type);
    v.req("path", s.path);
    v("major", s.major);
    v("minor", s.minor);
    v("fileMode", s.file_mode);
    v("uid", s.uid);
    v("gid", s.gid);
}

KILN_JSON_FIELDS(DeviceRule) {
    v.req("allow", s.allow);
    v("type", s.type);
    v("major", s.major);
    v("minor", s.minor);
    v("access", s.access);
}

KILN_JSON_FIELDS(Memory) {
    v("limit", s.limit);
    v("reservation", s.reservation);
    v("swap", s.swap);
    v("kernel", s.kernel);
    v("kernelTCP", s.kernel_tcp);
    v("swappiness", s.swappiness);
    v("disableOOMKiller", s.disable_oom_killer);
    v("useHierarchy", s.use_hierarchy);
    v("checkBeforeUpdate", s.check_before_update);
}

KILN_JSON_FIELDS(Cpu) {
    v("shares", s.shares);
    v("quota", s.quota);
    v("burst", s.burst);
    v("period", s.period);
    v("realtimeRuntime", s.realtime_runtime);
    v("realtimePeriod", s.realtime_period);
    v("cpus", s.cpus);
    v("mems", s.mems);
    v("idle", s.idle);
}

KILN_JSON_FIELDS(Pids) { v.req("limit", s.limit); }

KILN_JSON_FIELDS(WeightDevice) {
    v.req("major", s.major);
    v.req("minor", s.minor);
    v("weight", s.weight);
    v("leafWeight", s.leaf_weight);
}

KILN_JSON_FIELDS(ThrottleDevice) {
    v.req("major", s.major);
    v.req("minor", s.minor);
    v.req("rate", s.rate);
}

KILN_JSON_FIELDS(BlockIo) {
    v("weight", s.weight);
    v("leafWeight", s.leaf_weight);
    v("weightDevice", s.weight_device);
    v("throttleReadBpsDevice", s.throttle_read_bps_device);
    v("throttleWriteBpsDevice", s.throttle_write_bps_device);
    v("throttleReadIOPSDevice", s.throttle_read_iops_device);
    v("throttleWriteIOPSDevice", s.throttle_write_iops_device);
}

KILN_JSON_FIELDS(HugepageLimit) {
    v.req("pageSize", s.page_size);
    v.req("limit", s.limit);
}

KILN_JSON_FIELDS(NetworkPriority) {
    v.req("name", s.name);
    v.req("priority", s.priority);
}

KILN_JSON_FIELDS(Network) {
    v("classID", s.class_id);
    v("priorities", s.priorities);
}

KILN_JSON_FIELDS(Rdma) {
    v("hcaHandles", s.hca_handles);
    v("hcaObjects", s.hca_objects);
}

KILN_JSON_FIELDS(Resources) {
    v("devices", s.devices);
    v("memory", s.memory);
    v("cpu", s.cpu);
    v("pids", s.pids);
    v("blockIO", s.block_io);
    v("hugepageLimits", s.hugepage_limits);
    v("network", s.network);
    v("rdma", s.rdma);
    v("unified", s.unified);
}

KILN_JSON_FIELDS(SeccompArg) {
    v.req("index", s.index);
    v.req("value", s.value);
    v("valueTwo", s.value_two);
    v.req("op", s.op);
}

KILN_JSON_FIELDS(SeccompSyscall) {
    v.req("names", s.names);
    v.req("action", s.action);
    v("errnoRet", s.errno_ret);
    v("args", s.args);
}

KILN_JSON_FIELDS(Seccomp) {
    v.req("defaultAction", s.default_action);
    v("defaultErrnoRet", s.default_errno_ret);
    v("architectures", s.architectures);
    v("flags", s.flags);
    v("listenerPath", s.listener_path);
    v("listenerMetadata", s.listener_metadata);
    v("syscalls", s.syscalls);
}

KILN_JSON_FIELDS(TimeOffset) {
    v("secs", s.secs);
    v("nanosecs", s.nanosecs);
}

KILN_JSON_FIELDS(Personality) {
    v.req("domain", s.domain);
    v("flags", s.flags);
}

KILN_JSON_FIELDS(Linux) {
    v("uidMappings", s.uid_mappings);
    v("gidMappings", s.gid_mappings);
    v("sysctl", s.sysctl);
    v("resources", s.resources);
    v("cgroupsPath", s.cgroups_path);
    v("namespaces", s.namespaces);
    v("devices", s.devices);
    v("seccomp", s.seccomp);
    v("rootfsPropagation", s.rootfs_propagation);
    v("maskedPaths", s.masked_paths);
    v("readonlyPaths", s.readonly_paths);
    v("mountLabel", s.mount_label);
    v("personality", s.personality);
    v("timeOffsets", s.time_offsets);
}

KILN_JSON_FIELDS(Spec) {
    v.req("ociVersion", s.oci_version);
    v("process", s.process);
    v("root", s.root);
    v("hostname", s.hostname);
    v("domainname", s.domainname);
    v("mounts", s.mounts);
    v("hooks", s.hooks);
    v("annotations", s.annotations);
    v("linux", s.linux);
}

Spec spec_from_json(const nlohmann::json& j) {
    Spec spec;
    detail::read(j, "", spec);
    return spec;
}

Spec parse_spec(const std::string& text) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        invalid(std::string("malformed JSON: ") + e.what());
    }
    if (!j.is_object()) invalid("expected a JSON object at the top level, got " + detail::json_type_name(j));
    return spec_from_json(j);
}

nlohmann::json to_json(const Spec& spec) { return detail::write(spec); }

Process process_from_json(const nlohmann::json& j, const std::string& path) {
    Process p;
    detail::read(j, path, p);
    return p;
}

Resources resources_from_json(const nlohmann::json& j, const std::string& path) {
    Resources r;
    detail::read(j, path, r);
    return r;
}

nlohmann::json to_json(const Resources& resources) { return detail::write(resources); }

bool has_namespace(const Spec& spec, const std::string& type) { return find_namespace(spec, type) != nullptr; }

const Namespace* find_namespace(const Spec& spec, const std::string& type) {
    if (!spec.linux) return nullptr;
    for (const auto& ns : spec.linux->namespaces)
        if (ns.type == type) return &ns;
    return nullptr;
}

}  // namespace kiln::oci
