// The plan: everything the container's init (or an exec'd process) does, worked out beforehand
// in the runtime process. The runtime sends it, encoded (plan_codec.hpp), to the kiln-init
// program, which runs from a sealed memfd; between clone and execve nothing allocates, and init
// itself only makes system calls once the plan is decoded.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/container/seccomp.hpp"
#include "core/oci/spec.hpp"

namespace kiln::container {

// An error inside init: errno and a message naming the call and its arguments. Sent back over the
// sync socket; `create` fails with it.
struct InitError {
    int err = 0;
    char message[1024] = {};
};

// Formats into `e` and returns -1. Async-signal-safe for the formats init uses (%s %d %u %x).
int init_fail(InitError* e, int err, const char* fmt, ...) noexcept __attribute__((format(printf, 3, 4)));

struct NamespaceJoin {
    std::string type;  // "network", ...
    int flag = 0;      // CLONE_NEW*
    std::string path;
    int fd = -1;       // opened by the runtime before clone
};

struct NamespacePlan {
    // Namespaces init creates. In one stage, clone3 creates them all; in two stages (some are
    // joined by path), an intermediate process joins those first, then unshares these.
    int new_flags = 0;
    std::vector<NamespaceJoin> joins;
    bool two_stage = false;
    std::string uid_map;  // "<container> <host> <size>\n..." written by the runtime
    std::string gid_map;
    std::string time_offsets;  // "monotonic <s> <ns>\nboottime <s> <ns>\n"
    // Whether new_flags makes each of these.
    bool new_user() const;
    bool new_pid() const;
    bool new_mount() const;
    bool new_cgroup() const;
    // The namespace of this CLONE_NEW* type joined by path, if any.
    const NamespaceJoin* joined(int flag) const;
};

struct CgroupSubMount {
    std::string name;     // directory under the cgroup mount: "memory", "cpu,cpuacct", "systemd", "unified"
    std::string fstype;   // cgroup | cgroup2
    std::string options;  // v1 controllers ("cpu,cpuacct", "name=systemd")
    std::string host_dir; // the container's own cgroup on the host, bound when there is no cgroupns
    std::vector<std::string> links;  // "cpu" -> "cpu,cpuacct"
};

struct MountStep {
    std::string field;        // "mounts[3]", for errors
    std::string destination;  // absolute, in the container
    std::string source;       // bind: absolute host path; otherwise what mount(2) gets
    std::string type;
    unsigned long flags = 0;  // MS_RDONLY, MS_NOSUID, ... (not MS_BIND/MS_REC)
    bool bind = false;
    bool recursive = false;
    std::vector<unsigned long> propagation;
    uint64_t attr_set = 0;
    uint64_t attr_clr = 0;
    bool idmap = false;
    bool idmap_recursive = false;
    int idmap_userns_fd = -1;
    // The idmapped tree made by the runtime (open_tree + mount_setattr), which init moves into
    // place: making it needs CAP_SYS_ADMIN over the source's filesystem, which init in a user
    // namespace lacks. -1: init makes it from idmap_userns_fd (when it joins a mount namespace,
    // where the source path is that namespace's).
    int tree_fd = -1;
    std::string data;
    bool cgroup_tree = false;  // type "cgroup" on a v1 or hybrid host: tmpfs plus one mount per hierarchy
    bool tmpcopyup = false;    // a tmpfs that starts with a copy of the directory it covers
};

struct DeviceNode {
    std::string field;
    std::string path;  // absolute, in the container
    mode_t mode = 0;   // S_IFCHR|0666 ...
    dev_t dev = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    bool chown = false;
};

struct RootfsPlan {
    std::string rootfs;  // absolute host path
    bool readonly = false;
    unsigned long propagation = 0;        // applied to "/" of the new mount namespace first
    unsigned long final_propagation = 0;  // rootfsPropagation applied to the new root after pivot
    // With shared propagation, the mount holding the rootfs is made private first: pivot_root
    // refuses a new root whose parent mount is shared.
    std::string parent_mount;
    bool no_pivot = false;
    std::vector<MountStep> mounts;
    std::vector<CgroupSubMount> cgroup_mounts;
    // A new cgroup namespace shows the container's cgroup as the root of a fresh cgroup mount;
    // without one a fresh mount would show the host's whole hierarchy, so the container's own
    // directory is bound instead.
    bool own_cgroupns = false;
    bool setup_dev = false;  // default devices and /dev links
    bool bind_devices = false;  // in a new user namespace mknod is not allowed: bind the host's
    std::vector<DeviceNode> devices;
    std::vector<std::string> masked_paths;
    std::vector<std::string> readonly_paths;
    std::string hostname;
    std::string domainname;
    bool set_hostname = false;
    bool set_domainname = false;
    std::vector<std::pair<std::string, std::string>> sysctl;  // "/proc/sys/net/ipv4/ip_forward", "1"
    std::string cwd;  // created in the rootfs when missing
};

struct Capabilities {
    uint64_t bounding = 0;
    uint64_t effective = 0;
    uint64_t inheritable = 0;
    uint64_t permitted = 0;
    uint64_t ambient = 0;
};

struct SchedAttr {
    uint32_t policy = 0;
    uint64_t flags = 0;
    int32_t nice = 0;
    uint32_t priority = 0;
    uint64_t runtime = 0;
    uint64_t deadline = 0;
    uint64_t period = 0;
};

struct RlimitStep {
    std::string type;
    int resource = 0;
    struct rlimit limit = {};
};

struct ProcessPlan {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::vector<char*> argv;  // null-terminated views of args and env
    std::vector<char*> envp;
    std::string path_env;     // $PATH for finding args[0]
    std::string cwd;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> additional_gids;
    std::optional<mode_t> umask;
    std::optional<Capabilities> caps;
    int last_cap = 40;
    std::vector<RlimitStep> rlimits;
    bool no_new_privileges = false;
    std::optional<int> oom_score_adj;
    std::optional<unsigned long> personality;
    std::optional<int> ioprio;
    std::optional<SchedAttr> scheduler;
    bool terminal = false;
    unsigned short console_height = 0;
    unsigned short console_width = 0;
    std::optional<SeccompProgram> seccomp;
    int preserve_fds = 0;
    // Filled for execve once; the buffer init resolves args[0] into.
    mutable char exec_path[4096] = {};
};

// A hook init runs itself (createContainer, startContainer).
struct HookExec {
    std::string field;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::vector<char*> argv;
    std::vector<char*> envp;
    std::string path;
    int timeout_s = 0;
};

struct InitPlan {
    NamespacePlan ns;
    RootfsPlan rootfs;
    ProcessPlan process;
    std::vector<HookExec> create_container_hooks;
    std::vector<HookExec> start_container_hooks;
    bool runtime_hooks = false;  // prestart or createRuntime hooks: init pauses for them
    // Where init receives the state JSON of its hooks (createContainer's, a NUL, then
    // startContainer's): the runtime sends it with GO, once it knows init's pid, and sizes this
    // buffer beforehand. Empty when init runs no hooks.
    mutable std::vector<char> hook_state;
    int console_socket = -1;
    int start_fd = -1;  // exec fifo: init reads one byte from it to start
    std::string session_keyring;  // a new session keyring of this name (runc's default)
    // The container's v1 cgroups: `tasks` files opened for writing; init moves itself into each
    // (see cgroups::Cgroup::JoinFds).
    std::vector<int> cgroup_tasks;
};

// What a process joining a running container (exec) needs besides its ProcessPlan.
struct ExecPlan {
    ProcessPlan process;
    int pidfd = -1;      // the container's init
    int join_flags = 0;  // namespaces of init that differ from the runtime's
    int console_socket = -1;
    std::vector<int> cgroup_tasks;
};

// The fd fields of a plan, in a fixed order. The runtime sends the fds they hold along with the
// encoded plan (SCM_RIGHTS); kiln-init writes the numbers it received back into the same slots.
// Fields holding -1 are not slots.
std::vector<int*> fd_slots(InitPlan& plan);
std::vector<int*> fd_slots(ExecPlan& plan);
inline constexpr size_t kMaxPlanFds = 250;  // SCM_MAX_FD is 253
inline constexpr int kMaxPreserveFds = 1 << 20;  // --preserve-fds: the kernel's nr_open default
inline constexpr size_t kMaxHookState = 4 << 20;

struct PlanInputs {
    std::string bundle;  // absolute
    bool no_pivot = false;
    int console_socket = -1;
    int preserve_fds = 0;
    std::vector<CgroupSubMount> cgroup_mounts;  // how to show the container's cgroups inside
    bool cgroup_v2_host = false;
    std::string cgroup_v2_dir;  // the container's own cgroup on a v2 host
};

// Builds the plan for `create`. Errors name the config field.
InitPlan build_init_plan(const oci::Spec& spec, const PlanInputs& inputs);
// Its namespace part alone (the child is cloned before the rest of the plan exists).
NamespacePlan build_namespace_plan(const oci::Spec& spec);
// The process part alone, for `exec` and for tests.
ProcessPlan build_process_plan(const oci::Process& process, const oci::Spec* spec);
// Points argv/envp at args/env (after the plan has reached its final address).
void finalize_pointers(ProcessPlan& p);
void finalize_pointers(HookExec& h);

// "<container> <host> <size>\n" lines, as uid_map and gid_map take them.
std::string map_text(const std::vector<oci::IdMapping>& maps);

// Capabilities of an oci::Process as bit masks; unknown names are an error naming the field.
Capabilities capability_masks(const oci::Capabilities& caps, const std::string& field);

}  // namespace kiln::container
