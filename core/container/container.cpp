// Container lifecycle over the state store, the cgroup drivers and the launcher.
#include "core/container/container.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/container/hooks.hpp"
#include "core/container/launch.hpp"
#include "core/container/namespaces.hpp"
#include "core/container/plan.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/idmap.hpp"
#include "core/sys/log.hpp"
#include "core/sys/mountinfo.hpp"
#include "core/sys/proc.hpp"
#include "core/sys/socket.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::container {
namespace {

// The spec runs poststart hooks after the process has started, and the startContainer hooks
// come before that, in init: wait until init's end of the exec fifo closes (at its exec, or
// its exit). `watch` is a reader opened before the start byte was written.
void wait_for_exec(int watch) {
    if (watch < 0) return;
    struct pollfd p{watch, 0, 0};
    // Bounded: a startContainer hook that hangs has its own timeout in init.
    for (int waited = 0; waited < 600; ++waited) {
        int r = ::poll(&p, 1, 100);
        if (r > 0 && (p.revents & (POLLHUP | POLLERR))) return;
        if (r < 0 && errno != EINTR) return;
    }
}


std::string absolute_bundle(const std::string& bundle) {
    std::string b = bundle.empty() ? "." : bundle;
    char* real = ::realpath(b.c_str(), nullptr);
    if (!real) {
        int err = errno;
        throw Error(err == ENOENT ? Errc::not_found : Errc::invalid_argument,
                    "bundle " + b + ": " + std::strerror(err));
    }
    std::string out = real;
    free(real);
    struct stat st;
    if (::stat(out.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) invalid("bundle " + out + " is not a directory");
    return out;
}

std::string state_json(const std::string& id, const std::string& status, pid_t pid, const std::string& bundle,
                       const std::map<std::string, std::string>& annotations) {
    oci::State s{oci::kSpecVersion, id, status, pid, bundle, annotations};
    return oci::to_json(s).dump();
}

// The device rules every container gets, as runc: everything denied, then the config's rules,
// then the devices every container has and those linux.devices lists. Empty when the host has no
// way to enforce them and the config did not ask: a policy nobody asked for is not an error.
std::vector<oci::DeviceRule> device_policy(const oci::Spec& spec, const cgroups::Layout& layout) {
    const auto& asked = spec.linux->resources ? spec.linux->resources->devices : std::vector<oci::DeviceRule>{};
    if (asked.empty() && !layout.find("devices", "") && !layout.unified()) return {};
    std::vector<oci::DeviceRule> rules = {{false, "a", {}, {}, "rwm"}};
    rules.insert(rules.end(), asked.begin(), asked.end());
    auto allow = [&](const char* type, std::optional<int64_t> major, std::optional<int64_t> minor) {
        rules.push_back({true, type, major, minor, "rwm"});
    };
    allow("c", 1, 3);     // null
    allow("c", 1, 5);     // zero
    allow("c", 1, 7);     // full
    allow("c", 1, 8);     // random
    allow("c", 1, 9);     // urandom
    allow("c", 5, 0);     // tty
    allow("c", 5, 1);     // console
    allow("c", 5, 2);     // ptmx
    allow("c", 136, {});  // pts
    for (const auto& d : spec.linux->devices)
        if (d.type != "p") allow(d.type == "u" ? "c" : d.type.c_str(), d.major, d.minor);
    return rules;
}

struct Bundle {
    std::string dir;  // absolute
    std::string config_text;
    oci::Spec spec;
};

Bundle load_bundle(const std::string& bundle_arg) {
    Bundle b;
    b.dir = absolute_bundle(bundle_arg);
    try {
        b.config_text = read_file(b.dir + "/config.json");
    } catch (const SysError& e) {
        throw Error(e.err() == ENOENT ? Errc::not_found : Errc::invalid_argument,
                    "bundle " + b.dir + ": config.json: " + std::strerror(e.err()));
    }
    try {
        b.spec = oci::parse_spec(b.config_text);
        oci::validate_spec(b.spec);
    } catch (const Error& e) {
        throw Error(e.code(), "config.json: " + std::string(e.what()));
    }
    if (!oci::find_namespace(b.spec, "mount"))
        invalid("config.json: linux.namespaces: the container needs a mount namespace of its own");
    return b;
}

// What a create has made so far, undone (in reverse) unless it is committed: the container's
// processes killed, the cgroup directories this create made removed, poststop hooks run once
// init existed (the spec continues a failed create with delete), the state directory removed.
class Creation {
public:
    Creation(ContainerDir& dir, const Bundle& bundle) : dir_(dir), bundle_(bundle) {}
    Creation(const Creation&) = delete;
    Creation& operator=(const Creation&) = delete;
    ~Creation() {
        if (committed_) return;
        if (cgroup) {
            try {
                cgroup->signal_all(SIGKILL);
            } catch (const Error& e) {
                log::warn(std::string("cleaning up after a failed create: ") + e.what());
            }
            cgroups::remove_dirs(made_);
        }
        if (init_started && bundle_.spec.hooks)
            run_hooks_warn(bundle_.spec.hooks->poststop, "poststop",
                           state_json(dir_.id(), "stopped", 0, bundle_.dir, bundle_.spec.annotations));
        dir_.remove();
    }

    // Makes the container's cgroup directories of one version; a cgroup that already holds
    // processes is someone else's.
    void make_cgroup(cgroups::Version version) {
        auto made = cgroup->create(version);
        made_.insert(made_.end(), made.begin(), made.end());
        if (cgroup->populated(version, made))
            throw Error(Errc::already_exists, "linux.cgroupsPath: the cgroup " + cgroup->paths().front() +
                                                  " already holds processes");
    }

    void commit() { committed_ = true; }

    std::optional<cgroups::Cgroup> cgroup;
    bool init_started = false;

private:
    ContainerDir& dir_;
    const Bundle& bundle_;
    std::vector<std::string> made_;
    bool committed_ = false;
};

std::vector<CgroupSubMount> cgroup_submounts(const cgroups::Layout& layout, const cgroups::Cgroup& cg) {
    std::vector<CgroupSubMount> out;
    auto paths = cg.paths();
    for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
        const auto& h = layout.hierarchies[i];
        CgroupSubMount m;
        m.host_dir = i < paths.size() ? paths[i] : "";
        if (h.version == cgroups::Version::v2) {
            m.name = "unified";
            m.fstype = "cgroup2";
        } else {
            m.fstype = "cgroup";
            m.options = h.proc_key;
            if (!h.name.empty()) {
                m.name = h.name;
            } else {
                for (size_t k = 0; k < h.controllers.size(); ++k) m.name += (k ? "," : "") + h.controllers[k];
                if (h.controllers.size() > 1) m.links = h.controllers;
            }
        }
        out.push_back(std::move(m));
    }
    return out;
}

// pivot_root refuses a new root whose parent mount is shared: with shared propagation
// requested, that mount is made private first (in the container's mount namespace).
std::string mount_holding(const std::string& path) {
    std::string best;
    for (const auto& m : read_mountinfo()) {
        const std::string& mp = m.mount_point;
        bool under = path == mp || mp == "/" || (path.rfind(mp, 0) == 0 && path.size() > mp.size() && path[mp.size()] == '/');
        if (under && mp.size() >= best.size()) best = mp;
    }
    return best;
}

void send_to_listener(const std::string& path, const std::string& metadata, Fd fd, const std::string& state_json,
                      pid_t pid) {
    // containerProcessState of the runtime spec (config-linux.md, seccomp).
    nlohmann::json msg = {{"ociVersion", oci::kSpecVersion},
                          {"fds", {"seccompFd"}},
                          {"pid", pid},
                          {"metadata", metadata},
                          {"state", nlohmann::json::parse(state_json)}};
    Fd sock = connect_unix(path);
    std::string text = msg.dump();
    int r = send_fd(sock.get(), fd.get(), text.data(), text.size());
    if (r < 0) throw_sys(-r, "linux.seccomp.listenerPath: send the listener fd", path);
}

struct ProcessRef {
    Fd pidfd;
    std::optional<ProcStat> stat;
};

void check_preserve_fds(int n) {
    if (n < 0 || n > kMaxPreserveFds)
        invalid("preserve-fds: " + std::to_string(n) + " is not between 0 and " + std::to_string(kMaxPreserveFds));
}

ProcessRef find_init(const Record& r) {
    ProcessRef p;
    p.pidfd = open_process(r.pid, r.pid_start_time);
    if (p.pidfd) p.stat = read_proc_stat(r.pid);
    return p;
}

}  // namespace

Runtime::Runtime(std::string root) : store_(std::move(root)) {}

const cgroups::Layout& Runtime::layout() {
    if (!layout_) layout_ = cgroups::detect_layout();
    return *layout_;
}

cgroups::Cgroup Runtime::cgroup_of(const Record& r) { return cgroups::Cgroup::from_paths(layout(), r.cgroup_paths); }

std::string Runtime::status(const ContainerDir* dir, const Record& r) {
    ProcessRef init = find_init(r);
    if (!init.pidfd || !init.stat || init.stat->state == 'Z' || init.stat->state == 'X') return "stopped";
    std::string fifo = dir ? dir->file("exec.fifo") : store_.root() + "/" + r.id + "/exec.fifo";
    if (path_exists(fifo)) return "created";
    if (cgroup_of(r).frozen()) return "paused";
    return "running";
}

namespace {

// A detached copy of an idmap mount's source, idmapped through `userns`, for init to move into
// place. Made here with the host's privileges: init in a user namespace has none over the
// source's filesystem.
Fd idmapped_tree(const MountStep& m, int userns) {
    Fd tree = sys::idmapped_clone(m.source.c_str(), userns, m.recursive, m.idmap_recursive);
    if (!tree)
        throw Error(errno == ENOENT ? Errc::not_found : errno == EPERM ? Errc::failed_precondition : Errc::invalid_argument,
                    m.field + ": idmap `" + m.source + "`: " + std::strerror(errno));
    return tree;
}

}  // namespace

Runtime::Created Runtime::create(const CreateOptions& o) {
    validate_id(o.id);
    check_preserve_fds(o.preserve_fds);
    Bundle b = load_bundle(o.bundle);
    oci::Spec& spec = b.spec;
    ContainerDir dir = store_.create(o.id);
    Creation creation(dir, b);

    // Without linux.cgroupsPath, runc's default: the id, below the caller's own cgroup.
    const std::string& path = spec.linux->cgroups_path;
    creation.cgroup.emplace(layout(), path.empty() ? o.id : path, read_file("/proc/self/cgroup"));
    cgroups::Cgroup& cg = *creation.cgroup;
    // The child starts now (into the v2 cgroup at clone time, which must exist first) and becomes
    // kiln-init while the rest of the cgroups, the plan and its fds are being made.
    creation.make_cgroup(cgroups::Version::v2);
    Fd v2_dir = cg.open_v2_dir();
    InitProcess init = InitProcess::for_create(build_namespace_plan(spec), v2_dir ? v2_dir.get() : -1);
    creation.init_started = true;
    write_file(dir.file("config.json"), b.config_text, 0600);
    creation.make_cgroup(cgroups::Version::v1);
    oci::Resources resources = spec.linux->resources.value_or(oci::Resources{});
    resources.devices = device_policy(spec, layout());
    cg.apply(resources);

    PlanInputs in;
    in.bundle = b.dir;
    in.no_pivot = o.no_pivot;
    in.preserve_fds = o.preserve_fds;
    Fd console;
    if (o.console_fd >= 0) {
        in.console_socket = o.console_fd;
    } else if (!o.console_socket.empty()) {
        console = connect_unix(o.console_socket);
        in.console_socket = console.get();
    }
    in.cgroup_v2_host = layout().mode == cgroups::Mode::unified;
    in.cgroup_mounts = cgroup_submounts(layout(), cg);
    if (in.cgroup_v2_host && !cg.paths().empty()) in.cgroup_v2_dir = cg.paths().front();
    InitPlan plan;
    try {
        plan = build_init_plan(spec, in);
    } catch (const Error& e) {
        throw Error(e.code(), "config.json: " + std::string(e.what()));
    }
    if (plan.rootfs.propagation & MS_SHARED) plan.rootfs.parent_mount = mount_holding(plan.rootfs.rootfs);
    if (!o.no_new_keyring) plan.session_keyring = o.id;
    std::vector<Fd> idmap_fds;
    for (size_t i = 0; i < plan.rootfs.mounts.size(); ++i) {
        MountStep& m = plan.rootfs.mounts[i];
        if (!m.idmap) continue;
        // The mount's own mappings, or else the container's: those of its new user namespace,
        // or the user namespace it joins (a pod's).
        const auto& sm = spec.mounts[i];
        if (!sm.uid_mappings.empty()) {
            idmap_fds.push_back(make_userns(map_text(sm.uid_mappings), map_text(sm.gid_mappings)));
        } else if (plan.ns.new_user()) {
            idmap_fds.push_back(make_userns(plan.ns.uid_map, plan.ns.gid_map));
        } else {
            const std::string& path = plan.ns.joined(CLONE_NEWUSER)->path;
            Fd userns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
            if (!userns) throw_sys("open", m.field + ": the user namespace " + path);
            idmap_fds.push_back(std::move(userns));
        }
        if (plan.ns.joined(CLONE_NEWNS)) {
            m.idmap_userns_fd = idmap_fds.back().get();
        } else {
            idmap_fds.push_back(idmapped_tree(m, idmap_fds.back().get()));
            m.tree_fd = idmap_fds.back().get();
        }
    }
    std::string fifo_path = dir.file("exec.fifo");
    if (::mkfifo(fifo_path.c_str(), 0600) < 0) throw_sys("mkfifo", fifo_path);
    // Read-write so that opening never blocks; init reads its start byte from it.
    Fd fifo = open_file(fifo_path, O_RDWR);
    plan.start_fd = fifo.get();
    open_joined_namespaces(plan.ns, spec);
    struct CloseJoined {
        NamespacePlan& ns;
        ~CloseJoined() { close_joined_namespaces(ns); }
    } close_joined{plan.ns};
    cgroups::Cgroup::JoinFds join = cg.open_for_join();
    for (const auto& tasks : join.v1_tasks) plan.cgroup_tasks.push_back(tasks.get());

    auto hook_state = [&](const char* status, pid_t pid) {
        return state_json(o.id, status, pid, b.dir, spec.annotations);
    };
    if (!plan.create_container_hooks.empty() || !plan.start_container_hooks.empty())
        plan.hook_state.resize(2 * hook_state("creating", std::numeric_limits<pid_t>::max()).size() + 2);
    LaunchCallbacks cb;
    cb.init_hook_state = [&](pid_t pid) {
        return hook_state("creating", pid) + std::string(1, '\0') + hook_state("created", pid);
    };
    cb.runtime_hooks = [&](pid_t pid) {
        std::string s = hook_state("creating", pid);
        run_hooks(spec.hooks->prestart, "prestart", s);
        run_hooks(spec.hooks->create_runtime, "createRuntime", s);
    };
    cb.seccomp_listener = [&](Fd fd, pid_t pid) {
        const auto& sc = *spec.linux->seccomp;
        send_to_listener(sc.listener_path, sc.listener_metadata, std::move(fd), hook_state("creating", pid), pid);
    };
    pid_t pid = init.create(plan, cb);
    bool poststart = o.start && spec.hooks && !spec.hooks->poststart.empty();
    Fd exec_watch;
    if (o.start) {
        if (poststart) exec_watch = open_file(fifo_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        // The fifo is open read-write here: the start byte goes straight in.
        if (::write(fifo.get(), "0", 1) != 1) throw_sys("write", "the exec fifo");
        ::unlink(fifo_path.c_str());
        fifo.reset();
    }

    Record r;
    r.id = o.id;
    r.pid = pid;
    auto st = read_proc_stat(pid);
    r.pid_start_time = st ? st->start_time : 0;
    r.bundle = b.dir;
    r.rootfs = plan.rootfs.rootfs;
    r.created = rfc3339_now();
    r.cgroup_paths = cg.paths();
    r.annotations = spec.annotations;
    r.owner = ::getuid();
    dir.write(r);
    // Without its pid file the caller could not track the container: that fails the create too.
    if (!o.pid_file.empty()) atomic_write(o.pid_file, std::to_string(pid), false, 0644);
    creation.commit();
    specs_[o.id] = spec;
    if (poststart) {
        wait_for_exec(exec_watch.get());
        run_hooks_warn(spec.hooks->poststart, "poststart", hook_state("running", pid));
    }
    return {pid, plan.process.terminal};
}

void Runtime::start(const std::string& id) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    std::string st = status(&dir, r);
    if (st != "created") precondition("container \"" + id + "\" cannot be started: it is " + st + ", not created");
    std::string fifo = dir.file("exec.fifo");
    const oci::Spec& spec = config(id);
    bool poststart = spec.hooks && !spec.hooks->poststart.empty();
    // Opened before the start byte, so that its hang-up marks the process's exec.
    Fd exec_watch;
    if (poststart) exec_watch.reset(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENXIO) precondition("container \"" + id + "\" cannot be started: its init has exited");
        throw_sys("open", fifo);
    }
    Fd w(fd);
    if (write_no_sigpipe(w.get(), "0", 1) != 1) {
        if (errno == EPIPE) precondition("container \"" + id + "\" cannot be started: its init has exited");
        throw_sys("write", fifo);
    }
    w.reset();
    ::unlink(fifo.c_str());
    if (poststart) {
        wait_for_exec(exec_watch.get());
        run_hooks_warn(spec.hooks->poststart, "poststart", state_json(id, "running", r.pid, r.bundle, r.annotations));
    }
}

ContainerInfo Runtime::state(const std::string& id) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    ContainerInfo info;
    std::string st = status(&dir, r);
    info.state = {oci::kSpecVersion, id, st, st == "stopped" ? 0 : r.pid, r.bundle, r.annotations};
    info.rootfs = r.rootfs;
    info.created = r.created;
    info.owner = r.owner;
    return info;
}

std::vector<ContainerInfo> Runtime::list() {
    std::vector<ContainerInfo> out;
    for (const auto& id : store_.ids()) {
        auto r = store_.peek(id);
        if (!r) continue;  // still being created
        ContainerInfo info;
        std::string st = status(nullptr, *r);
        info.state = {oci::kSpecVersion, id, st, st == "stopped" ? 0 : r->pid, r->bundle, r->annotations};
        info.rootfs = r->rootfs;
        info.created = r->created;
        info.owner = r->owner;
        out.push_back(std::move(info));
    }
    return out;
}

void Runtime::kill(const std::string& id, int signal, bool all) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    std::string st = status(&dir, r);
    if (st == "stopped") precondition("container \"" + id + "\" is not running");
    cgroups::Cgroup cg = cgroup_of(r);
    if (all) {
        cg.signal_all(signal);
    } else {
        ProcessRef init = find_init(r);
        if (!init.pidfd) precondition("container \"" + id + "\" is not running");
        if (sys::pidfd_send_signal(init.pidfd.get(), signal) < 0 && errno != ESRCH)
            throw_sys("kill", "signal " + std::to_string(signal) + " to pid " + std::to_string(r.pid));
    }
    // A frozen process only dies once thawed.
    if (st == "paused" && signal == SIGKILL) cg.thaw();
}

void Runtime::destroy(ContainerDir& dir, const Record& r) {
    cgroups::Cgroup cg = cgroup_of(r);
    // Processes outside init's pid namespace (or when it shares ours) outlive init.
    if (!cg.pids().empty()) {
        cg.signal_all(SIGKILL);
        if (cg.frozen()) cg.thaw();
    }
    cg.destroy();
    try {
        const oci::Spec& spec = config(r.id);
        if (spec.hooks && !spec.hooks->poststop.empty())
            run_hooks_warn(spec.hooks->poststop, "poststop", state_json(r.id, "stopped", 0, r.bundle, r.annotations));
    } catch (const Error& e) {
        log::warn("poststop hooks of \"" + r.id + "\" not run: " + e.what());
    }
    specs_.erase(r.id);
    dir.remove();
}

void Runtime::remove(const std::string& id, bool force) {
    std::optional<ContainerDir> found;
    try {
        found.emplace(store_.open(id));
    } catch (const Error& e) {
        // As runc: the directory of a create that was killed before it wrote the record is
        // removed either way; the container still "does not exist" unless --force.
        if (e.code() == Errc::not_found && store_.remove_orphan(id))
            log::warn("removed the state directory of \"" + id + "\", left without a record by an interrupted create");
        throw;
    }
    ContainerDir& dir = *found;
    Record r = dir.read();
    std::string st = status(&dir, r);
    if (st != "stopped") {
        if (!force)
            precondition("container \"" + id + "\" is " + st + ", not stopped: stop it first or use --force");
        ProcessRef init = find_init(r);
        if (init.pidfd) {
            sys::pidfd_send_signal(init.pidfd.get(), SIGKILL);
            if (st == "paused") cgroup_of(r).thaw();
            if (!wait_pidfd_exit(init.pidfd.get(), 10000))
                throw Error(Errc::internal, "container \"" + id + "\": init did not exit after SIGKILL");
        }
    }
    destroy(dir, r);
}

std::vector<pid_t> Runtime::processes(const std::string& id) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    if (status(&dir, r) == "stopped") return {};
    return cgroup_of(r).pids();
}

void Runtime::pause(const std::string& id) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    std::string st = status(&dir, r);
    if (st != "running") precondition("container \"" + id + "\" cannot be paused: it is " + st);
    cgroup_of(r).freeze();
}

void Runtime::resume(const std::string& id) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    std::string st = status(&dir, r);
    if (st != "paused") precondition("container \"" + id + "\" cannot be resumed: it is " + st + ", not paused");
    cgroup_of(r).thaw();
}

void Runtime::update(const std::string& id, const oci::Resources& resources) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    if (status(&dir, r) == "stopped") precondition("container \"" + id + "\" is not running");
    if (resources.devices.empty()) return cgroup_of(r).apply(resources);
    // As runc: the device policy is the one the container was created with.
    log::warn("update: linux.resources.devices cannot be changed on a running container; ignored");
    oci::Resources without = resources;
    without.devices.clear();
    cgroup_of(r).apply(without);
}

const oci::Spec& Runtime::config(const std::string& id) {
    auto it = specs_.find(id);
    if (it != specs_.end()) return it->second;
    std::string path = store_.root() + "/" + id + "/config.json";
    auto text = read_file_if_exists(path);
    if (!text) not_found("container \"" + id + "\" does not exist");
    return specs_.emplace(id, oci::parse_spec(*text)).first->second;
}

pid_t Runtime::exec(const std::string& id, const ExecOptions& o) {
    ContainerDir dir = store_.open(id);
    Record r = dir.read();
    std::string st = status(&dir, r);
    if (st == "stopped") precondition("cannot exec in a stopped container \"" + id + "\"");
    if (st == "paused") precondition("cannot exec in a paused container \"" + id + "\"");
    const oci::Spec& spec = config(id);
    ProcessPlan plan;
    try {
        if (o.process.args.empty()) invalid("process.args: is required and must not be empty");
        if (o.process.cwd.empty() || o.process.cwd[0] != '/') invalid("process.cwd: must be an absolute path");
        plan = build_process_plan(o.process, &spec);
    } catch (const Error& e) {
        throw Error(e.code(), "exec: " + std::string(e.what()));
    }
    check_preserve_fds(o.preserve_fds);
    plan.preserve_fds = o.preserve_fds;
    ProcessRef init = find_init(r);
    if (!init.pidfd) precondition("container \"" + id + "\" is not running");
    Fd console;
    ExecPlan exec_plan;
    exec_plan.pidfd = init.pidfd.get();
    exec_plan.join_flags = namespaces_to_join(r.pid);
    if (o.console_fd >= 0) {
        exec_plan.console_socket = o.console_fd;
    } else if (!o.console_socket.empty()) {
        console = connect_unix(o.console_socket);
        exec_plan.console_socket = console.get();
    }
    if (plan.terminal && exec_plan.console_socket < 0) invalid("exec: a terminal needs --console-socket");
    exec_plan.process = std::move(plan);
    cgroups::Cgroup cg = cgroup_of(r);
    cgroups::Cgroup::JoinFds join = cg.open_for_join();
    for (const auto& tasks : join.v1_tasks) exec_plan.cgroup_tasks.push_back(tasks.get());
    LaunchCallbacks cb;
    cb.seccomp_listener = [&](Fd fd, pid_t pid) {
        const auto& sc = *spec.linux->seccomp;
        send_to_listener(sc.listener_path, sc.listener_metadata, std::move(fd),
                         state_json(id, "running", r.pid, r.bundle, r.annotations), pid);
    };
    InitProcess child = InitProcess::for_exec(join.v2_dir ? join.v2_dir.get() : -1);
    pid_t pid = child.exec(exec_plan, cb);
    if (!o.pid_file.empty()) atomic_write(o.pid_file, std::to_string(pid), false, 0644);
    return pid;
}

int parse_signal(const std::string& text) {
    static const std::pair<const char*, int> names[] = {
        {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP},
        {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},     {"FPE", SIGFPE},   {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
        {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT}, {"STOP", SIGSTOP},
        {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},   {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH}, {"IO", SIGIO},
        {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
    };
    if (!text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
        int n = std::stoi(text);
        if (n <= 0 || n >= NSIG) invalid("invalid signal \"" + text + "\"");
        return n;
    }
    std::string name = text;
    for (auto& c : name) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    for (const auto& [n, v] : names)
        if (name == n) return v;
    if (name.rfind("RTMIN", 0) == 0 || name.rfind("RTMAX", 0) == 0) {
        bool min = name[3] == 'I';
        std::string rest = name.substr(5);
        int off = 0;
        if (!rest.empty()) {
            if (rest[0] != '+' && rest[0] != '-') invalid("invalid signal \"" + text + "\"");
            off = std::stoi(rest);
        }
        int sig = (min ? SIGRTMIN : SIGRTMAX) + off;
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) return sig;
    }
    invalid("invalid signal \"" + text + "\"");
}

}  // namespace kiln::container
