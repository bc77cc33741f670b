// The pod manager. Each pod has its own lock, held while its processes change (start, stop,
// a restart); readers get the last saved snapshot, so a slow stop never blocks GET /v1/pods.
// Monitor exits arrive through pidfds on one watcher thread, and are handled on short-lived
// threads of their own (a restart may wait out its back-off).
#include "core/daemon/pod_manager.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <dirent.h>

#include "core/daemon/monitor_client.hpp"
#include "core/daemon/pod_network.hpp"
#include "core/daemon/sandbox.hpp"
#include "core/image/store.hpp"
#include "core/oci/names.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"
#include "core/sys/mountinfo.hpp"
#include "core/sys/proc.hpp"
#include "core/sys/spawn.hpp"
#include "core/sys/idmap.hpp"

namespace kiln::daemon {
namespace {

using json = nlohmann::json;

constexpr const char* kSandbox = "_sandbox";
// After SIGKILL, how long a container may take to be gone before kilnd reports it stuck.
constexpr int kKillWaitMs = 10000;

bool is_mounted(const std::string& path) {
    struct stat a, b;
    if (::stat(path.c_str(), &a) < 0 || ::stat((path + "/..").c_str(), &b) < 0) return false;
    return a.st_dev != b.st_dev || a.st_ino == b.st_ino;
}

void unmount(const std::string& path) {
    while (is_mounted(path))
        if (::umount2(path.c_str(), MNT_DETACH) < 0) {
            log::warn("umount " + path + ": " + std::strerror(errno));
            return;
        }
}

// /proc/PID/uid_map and gid_map text from {"uidMappings", "gidMappings"}; invalid_argument
// naming the isolator's field when a mapping is not three counts.
std::pair<std::string, std::string> userns_maps(const json& userns) {
    auto text = [&](const char* key) {
        std::string out;
        const json& list = userns.contains(key) ? userns[key] : json();
        if (!list.is_array() || list.empty()) invalid(std::string("isolators: userns.") + key + ": must list at least one mapping");
        for (const auto& m : list) {
            for (const char* f : {"containerID", "hostID", "size"})
                if (!m.is_object() || !m.contains(f) || !m[f].is_number_unsigned())
                    invalid(std::string("isolators: userns.") + key + ": each mapping needs containerID, hostID and size");
            out += std::to_string(m["containerID"].get<std::uint64_t>()) + " " + std::to_string(m["hostID"].get<std::uint64_t>()) +
                   " " + std::to_string(m["size"].get<std::uint64_t>()) + "\n";
        }
        return out;
    };
    return {text("uidMappings"), text("gidMappings")};
}

// The host id the namespace's 0 is, from the first mapping that holds 0.
std::uint64_t host_root(const json& mappings) {
    for (const auto& m : mappings)
        if (m.value("containerID", 1ull) == 0) return m.value("hostID", 0ull);
    return 0;
}

int signal_number(const std::string& name, int fallback) {
    if (name.empty()) return fallback;
    try {
        std::size_t used = 0;
        int n = std::stoi(name, &used);
        if (used == name.size() && n > 0 && n < 65) return n;
    } catch (...) {
    }
    std::string n = name.rfind("SIG", 0) == 0 ? name : "SIG" + name;
    static const std::pair<const char*, int> table[] = {
        {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT}, {"SIGQUIT", SIGQUIT}, {"SIGKILL", SIGKILL},
        {"SIGHUP", SIGHUP},   {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGWINCH", SIGWINCH}};
    for (auto [s, v] : table)
        if (n == s) return v;
    return fallback;
}

void mark_running(ContainerStatus& s, const MonitorStarted& started) {
    s.state = State::running;
    s.pid = started.pid;
    s.monitor_pid = started.monitor_pid;
    s.monitor_start_time = started.monitor_start_time;
    s.started_at = started.started_at;
    s.finished_at.clear();
    s.exit_code.reset();
    s.error.clear();
}

// Removes a pod's cgroup from every hierarchy.
void remove_pod_cgroups(const std::string& relative) {
    for (const auto& m : read_mountinfo("/proc/self/mountinfo")) {
        if (m.fstype != "cgroup" && m.fstype != "cgroup2") continue;
        std::string dir = m.mount_point + "/" + relative;
        // Leaf-first: container cgroups the monitors left (if any), then the pod's.
        if (DIR* d = ::opendir(dir.c_str())) {
            while (auto* e = ::readdir(d))
                if (e->d_type == DT_DIR && e->d_name[0] != '.') ::rmdir((dir + "/" + e->d_name).c_str());
            ::closedir(d);
        }
        ::rmdir(dir.c_str());
    }
}

}  // namespace

std::string_view state_name(State s) {
    switch (s) {
    case State::created: return "created";
    case State::running: return "running";
    case State::stopping: return "stopping";
    case State::stopped: return "stopped";
    case State::failed: return "failed";
    }
    return "unknown";
}

State state_from_name(const std::string& s) {
    for (State v : {State::created, State::running, State::stopping, State::stopped, State::failed})
        if (state_name(v) == s) return v;
    return State::failed;
}

State PodRecord::state() const {
    if (!error.empty() && !want_running) return State::failed;
    bool any_running = false, any_stopping = false, any_failed = false, all_created = true;
    for (const auto& c : containers) {
        any_running |= c.state == State::running;
        any_stopping |= c.state == State::stopping;
        any_failed |= c.state == State::failed;
        all_created &= c.state == State::created;
    }
    if (any_stopping) return State::stopping;
    if (all_created) return State::created;
    if (any_running) return State::running;
    if (!error.empty() || any_failed) return State::failed;
    return State::stopped;
}

json to_json(const ContainerStatus& s) {
    json j{{"name", s.name}, {"state", state_name(s.state)}, {"restartCount", s.restart_count}};
    if (s.pid) j["pid"] = s.pid;
    if (s.monitor_pid) {
        j["monitorPid"] = s.monitor_pid;
        j["monitorStartTime"] = s.monitor_start_time;
    }
    if (!s.started_at.empty()) j["startedAt"] = s.started_at;
    if (!s.finished_at.empty()) j["finishedAt"] = s.finished_at;
    if (s.exit_code) j["exitCode"] = *s.exit_code;
    if (!s.error.empty()) j["error"] = s.error;
    if (!s.image_digest.empty()) j["imageDigest"] = s.image_digest;
    return j;
}

namespace {
ContainerStatus status_from_json(const json& j) {
    ContainerStatus s;
    s.name = j.value("name", "");
    s.state = state_from_name(j.value("state", "failed"));
    s.pid = j.value("pid", 0);
    s.monitor_pid = j.value("monitorPid", 0);
    s.monitor_start_time = j.value("monitorStartTime", std::uint64_t{0});
    s.started_at = j.value("startedAt", "");
    s.finished_at = j.value("finishedAt", "");
    if (j.contains("exitCode")) s.exit_code = j["exitCode"].get<int>();
    s.restart_count = j.value("restartCount", 0);
    s.error = j.value("error", "");
    s.image_digest = j.value("imageDigest", "");
    return s;
}
}  // namespace

json to_json(const PodRecord& r) {
    json containers = json::array();
    for (const auto& c : r.containers) containers.push_back(to_json(c));
    json j{{"name", r.spec.name},       {"state", state_name(r.state())}, {"createdAt", r.created_at},
           {"wantRunning", r.want_running}, {"system", r.system},          {"spec", to_json(r.spec)},
           {"sandbox", to_json(r.sandbox)}, {"containers", containers}};
    if (!r.error.empty()) j["error"] = r.error;
    if (!r.netns.empty()) j["netns"] = r.netns;
    if (!r.userns.is_null()) j["userns"] = r.userns;
    j["networks"] = r.networks;
    return j;
}

PodRecord record_from_json(const json& j) {
    PodRecord r;
    r.spec = parse_pod_spec(j.at("spec"));
    r.created_at = j.value("createdAt", "");
    r.want_running = j.value("wantRunning", false);
    r.system = j.value("system", false);
    r.netns = j.value("netns", "");
    if (j.contains("userns") && j["userns"].is_object()) r.userns = j["userns"];
    if (j.contains("networks") && j["networks"].is_array()) r.networks = j["networks"];
    r.error = j.value("error", "");
    r.sandbox = status_from_json(j.value("sandbox", json::object()));
    for (const auto& c : j.value("containers", json::array())) r.containers.push_back(status_from_json(c));
    return r;
}

struct PodManager::Pod {
    std::mutex mu;  // held while the pod's processes change
    std::condition_variable cv;
    std::uint64_t generation = 0;  // bumped by stop and delete: cancels pending restarts
    bool deleted = false;
    PodRecord rec;

    mutable std::mutex snap_mu;
    PodRecord snapshot;
};

struct PodManager::Watch {
    std::string pod, container;
    pid_t pid;
    Fd pidfd;
};

PodManager::PodManager(Config config, Paths paths, EventBus& events, ImageResolver images)
    : config_(std::move(config)), paths_(std::move(paths)), events_(events), images_(std::move(images)) {
    mkdir_all(paths_.pods(), 0711);
    mkdir_all(paths_.runtime_root(), 0700);
    mkdir_all(paths_.monitors(), 0700);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || wake_fd_ < 0) throw_sys("epoll_create1/eventfd", "pod watcher");
    struct epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    watcher_ = std::thread([this] { watcher_loop(); });
}

PodManager::~PodManager() {
    if (!stopping_) shutdown(false);
    ::close(epoll_fd_);
    ::close(wake_fd_);
}

std::string PodManager::runtime_id(const std::string& pod, const std::string& container) const {
    return container == kSandbox ? pod + "_sandbox" : pod + "." + container;
}

std::string PodManager::monitor_socket(const std::string& pod, const std::string& container) const {
    return paths_.monitors() + "/" + runtime_id(pod, container) + ".sock";
}

std::string PodManager::log_path(const std::string& pod, const std::string& container) const {
    return paths_.pod(pod) + "/containers/" + container + "/log.json";
}

std::string PodManager::cgroup_path(const std::string& pod, const std::string& container) const {
    std::string p = "/" + config_.cgroup_parent + "/" + pod;
    return container.empty() ? p : p + "/" + container;
}

std::shared_ptr<PodManager::Pod> PodManager::find(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = pods_.find(name);
    if (it == pods_.end()) not_found("pod \"" + name + "\" not found");
    return it->second;
}

void PodManager::save(const Pod& pod) const {
    atomic_write(paths_.pod(pod.rec.spec.name) + "/pod.json", to_json(pod.rec).dump(2), true, 0600);
    std::lock_guard lock(pod.snap_mu);
    const_cast<Pod&>(pod).snapshot = pod.rec;
}

std::vector<PodRecord> PodManager::list() const {
    std::vector<std::shared_ptr<Pod>> pods;
    {
        std::lock_guard lock(mu_);
        for (const auto& [_, p] : pods_) pods.push_back(p);
    }
    std::vector<PodRecord> out;
    for (const auto& p : pods) {
        std::lock_guard lock(p->snap_mu);
        out.push_back(p->snapshot);
    }
    return out;
}

PodRecord PodManager::get(const std::string& name) const {
    auto p = find(name);
    std::lock_guard lock(p->snap_mu);
    return p->snapshot;
}

ContainerStatus PodManager::container(const std::string& pod, const std::string& container) const {
    PodRecord r = get(pod);
    for (const auto& c : r.containers)
        if (c.name == container) return c;
    not_found("pod \"" + pod + "\" has no container \"" + container + "\"");
}

PodRecord PodManager::create(const PodSpec& spec, bool start, bool system) {
    if (isolation_check_ && !system) isolation_check_(spec);
    // Images first: a bad reference is the request's fault and leaves nothing behind.
    for (std::size_t i = 0; i < spec.containers.size(); ++i) {
        try {
            images_(spec.containers[i].image);
        } catch (const Error& e) {
            invalid("containers[" + std::to_string(i) + "].image: " + e.what());
        }
    }
    auto pod = std::make_shared<Pod>();
    pod->rec.spec = spec;
    pod->rec.created_at = rfc3339_now();
    pod->rec.system = system;
    pod->rec.sandbox.name = kSandbox;
    for (const auto& c : spec.containers) pod->rec.containers.push_back(ContainerStatus{.name = c.name});
    std::unique_lock pod_lock(pod->mu);
    {
        std::lock_guard lock(mu_);
        if (pods_.count(spec.name)) throw Error(Errc::already_exists, "pod \"" + spec.name + "\" already exists");
        pods_[spec.name] = pod;
    }
    try {
        std::string dir = paths_.pod(spec.name);
        mkdir_all(dir + "/containers", 0700);
        save(*pod);
    } catch (...) {
        std::lock_guard lock(mu_);
        pods_.erase(spec.name);
        remove_all(paths_.pod(spec.name));
        throw;
    }
    events_.publish("pod.created", spec.name);
    if (start) {
        try {
            start_locked(*pod);
        } catch (...) {
            // A pod that cannot start is not created: everything made for it goes again.
            pod->deleted = true;
            remove_pod_cgroups(cgroup_path(spec.name).substr(1));
            remove_all(paths_.pod(spec.name));
            {
                std::lock_guard lock(mu_);
                pods_.erase(spec.name);
            }
            if (pod_released_) pod_released_(spec);
            events_.publish("pod.deleted", spec.name);
            throw;
        }
    }
    return pod->rec;
}

PodRecord PodManager::start(const std::string& name) {
    auto pod = find(name);
    std::unique_lock lock(pod->mu);
    if (pod->deleted) not_found("pod \"" + name + "\" not found");
    if (pod->rec.state() == State::running) return pod->rec;
    start_locked(*pod);
    if (!pod->rec.error.empty()) throw Error(Errc::failed_precondition, "pod \"" + name + "\": " + pod->rec.error);
    return pod->rec;
}

void PodManager::start_locked(Pod& pod) {
    pod.rec.want_running = true;
    pod.rec.error.clear();
    ++pod.generation;
    try {
        if (pod.rec.sandbox.state != State::running) start_sandbox(pod);
        for (std::size_t i = 0; i < pod.rec.containers.size(); ++i)
            if (pod.rec.containers[i].state != State::running) {
                pod.rec.containers[i].restart_count = 0;
                start_container(pod, i);
            }
    } catch (const std::exception& e) {
        pod.rec.error = e.what();
        log::error("pod " + pod.rec.spec.name + ": " + e.what());
        stop_locked(pod, 0);
        pod.rec.error = e.what();
        save(pod);
        events_.publish("pod.failed", pod.rec.spec.name, {}, {{"error", e.what()}});
        throw;
    }
    save(pod);
    events_.publish("pod.started", pod.rec.spec.name);
}

void PodManager::start_sandbox(Pod& pod) {
    const std::string& name = pod.rec.spec.name;
    std::string root = paths_.pod(name) + "/sandbox";
    mkdir_all(root, 0755);
    // Attachments a sandbox that died left behind go before new ones are made.
    release_network(pod);
    SandboxParams sp{&pod.rec.spec, paths_.pause_binary, root, cgroup_path(name, kSandbox), {}, {}};
    pod.rec.userns = nullptr;
    if (sandbox_settings_) {
        json settings = sandbox_settings_(pod.rec.spec);
        if (settings.contains("userns")) {
            if (pod.rec.spec.host_network())
                invalid("isolators: a pod in a user namespace of its own needs a network namespace of its own, not the host's");
            std::tie(sp.uid_map, sp.gid_map) = userns_maps(settings["userns"]);
            pod.rec.userns = settings["userns"];
        }
    }
    auto started = daemon::start_sandbox(sp);
    // kiln-pause's launcher stands where a container's monitor does.
    mark_running(pod.rec.sandbox, {.monitor_pid = started.launcher_pid,
                                   .monitor_start_time = started.launcher_start_time,
                                   .pid = started.pid,
                                   .started_at = started.started_at});
    save(pod);
    watch(name, kSandbox, started.launcher_pid, started.launcher_start_time);
    if (!pod.rec.spec.host_network()) {
        // The network plugins get the namespace as a file that outlives nothing but the pod.
        std::string netns = paths_.netns() + "/" + name;
        mount_netns(netns, started.pid);
        pod.rec.netns = netns;
        save(pod);
        if (network_attach_) {
            pod.rec.networks = network_attach_(pod.rec.spec, netns);
            save(pod);
        }
    }
    write_etc_files(paths_.pod(name) + "/etc", pod.rec.spec, pod.rec.networks);
}

void PodManager::release_network(Pod& pod) {
    if (!pod.rec.networks.empty() && network_detach_) network_detach_(pod.rec.spec, pod.rec.netns, pod.rec.networks);
    pod.rec.networks = json::array();
    if (!pod.rec.netns.empty()) {
        unmount_netns(pod.rec.netns);
        pod.rec.netns.clear();
    }
}

void PodManager::start_container(Pod& pod, std::size_t index) {
    const PodSpec& spec = pod.rec.spec;
    const ContainerSpec& c = spec.containers[index];
    ContainerStatus& status = pod.rec.containers[index];
    std::string dir = paths_.pod(spec.name) + "/containers/" + c.name;
    try {
        ImageInfo image = images_(c.image);
        mkdir_all(dir + "/upper", 0755);
        mkdir_all(dir + "/work", 0700);
        // In a pod with a user namespace of its own: that namespace, and the host ids its root is.
        Fd userns;
        uid_t root_uid = 0;
        gid_t root_gid = 0;
        if (pod.rec.userns.is_object()) {
            userns.reset(::open(("/proc/" + std::to_string(pod.rec.sandbox.pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
            if (userns.get() < 0) throw_sys("open", "the sandbox's user namespace");
            root_uid = static_cast<uid_t>(host_root(pod.rec.userns["uidMappings"]));
            root_gid = static_cast<gid_t>(host_root(pod.rec.userns["gidMappings"]));
            // The pod's root reaches its root file system through these (0700, like every pod's):
            // they are its own, as the host knows it.
            for (const std::string& d : {paths_.pod(spec.name), paths_.pod(spec.name) + "/containers", dir})
                if (::chown(d.c_str(), root_uid, root_gid) < 0) throw_sys("chown", d);
        }
        mkdir_all(dir + "/rootfs", 0755);
        if (!is_mounted(dir + "/rootfs")) {
            if (userns) {
                // The pod's user namespace: its root owns the image's files.
                image::RootfsIdmap idmap{userns.get(), root_uid, root_gid};
                image::mount_rootfs(image.lower_dirs, dir + "/upper", dir + "/work", dir + "/rootfs", &idmap);
            } else {
                image::mount_rootfs(image.lower_dirs, dir + "/upper", dir + "/work", dir + "/rootfs");
            }
        }

        ContainerParams cp;
        cp.pod = &spec;
        cp.container = &c;
        cp.image = image.defaults;
        cp.rootfs = dir + "/rootfs";
        cp.sandbox_pid = pod.rec.sandbox.pid;
        cp.sandbox_userns = pod.rec.userns.is_object();
        cp.cgroups_path = cgroup_path(spec.name, c.name);
        for (const auto& v : spec.volumes) {
            std::string host = v.kind == Volume::Kind::host ? v.host_path : paths_.pod(spec.name) + "/volumes/" + v.name;
            if (v.kind == Volume::Kind::named) {
                mkdir_all(host, 0755);
                // A named volume is the pod's: in its own user namespace, its root's.
                if (userns && ::chown(host.c_str(), root_uid, root_gid) < 0) throw_sys("chown", host);
            }
            cp.volume_dirs.emplace_back(v.name, host);
            if (userns && v.kind == Volume::Kind::host) {
                // Whether its filesystem can be idmapped: a detached idmapped copy is made, and dropped.
                if (sys::idmapped_clone(host.c_str(), userns.get()))
                    cp.idmapped_volumes.push_back(v.name);
                else
                    log::warn("pod " + spec.name + ": volume " + v.name + ": " + host +
                              " cannot be idmapped (its filesystem does not support it): inside the pod its files "
                              "show as the overflow id (nobody)");
            }
        }
        std::string etc = paths_.pod(spec.name) + "/etc";
        if (path_exists(etc + "/hosts")) {
            cp.resolv_conf = etc + "/resolv.conf";
            cp.hosts = etc + "/hosts";
        }
        json oci = container_config(cp);
        if (spec_edit_) oci = spec_edit_(spec, c, std::move(oci));
        atomic_write(dir + "/config.json", oci.dump(), false, 0600);
        status.image_digest = image.digest;

        std::string id = runtime_id(spec.name, c.name);
        MonitorSpawn ms{paths_.monitor_binary, paths_.runtime_binary, paths_.runtime_root(), id, dir, log_path(spec.name, c.name),
                        config_.container_logs.max_size, config_.container_logs.max_files,
                        monitor_socket(spec.name, c.name), dir + "/status.json", dir + "/monitor.log", c.stdin};
        ::unlink(ms.status_path.c_str());
        auto started = spawn_monitor(ms);
        mark_running(status, started);
        save(pod);
        events_.publish("container.started", spec.name, c.name, {{"pid", started.pid}});
        watch(spec.name, c.name, started.monitor_pid, started.monitor_start_time);
    } catch (const std::exception& e) {
        status.state = State::failed;
        status.error = e.what();
        unmount(dir + "/rootfs");
        throw Error(Errc::failed_precondition, "container " + c.name + ": " + e.what());
    }
}

PodManager::ExecOutput PodManager::exec(const std::string& pod_name, const std::string& container,
                                        const std::vector<std::string>& argv, const std::string& input) {
    constexpr std::size_t kMaxOutput = 4 << 20;
    ContainerStatus st = this->container(pod_name, container);  // not_found naming it
    if (st.state != State::running || !st.pid) precondition("container " + pod_name + "/" + container + " is not running");
    if (argv.empty()) invalid("exec: the command is empty");
    std::vector<std::string> args{paths_.runtime_binary, "--root", paths_.runtime_root(), "exec",
                                  runtime_id(pod_name, container)};
    args.insert(args.end(), argv.begin(), argv.end());
    return run_captured(args, input, kMaxOutput);
}

void PodManager::collect(Pod& pod, ContainerStatus& status, const std::string& container, bool persist) {
    if (!status.monitor_pid) return;
    int wstatus;
    ::waitpid(status.monitor_pid, &wstatus, WNOHANG);  // ours to reap unless adopted
    if (container == kSandbox) {
        // Nothing records how a sandbox ended: it ends when it is killed.
        bool requested = !pod.rec.want_running || status.state == State::stopping;
        status.state = requested ? State::stopped : State::failed;
        status.finished_at = rfc3339_now();
        status.pid = status.monitor_pid = 0;
        status.monitor_start_time = 0;
        if (persist) save(pod);
        return;
    }
    std::string dir = paths_.pod(pod.rec.spec.name) + "/containers/" + container;
    auto text = read_file_if_exists(dir + "/status.json");
    json st = text ? json::parse(*text, nullptr, false) : json();
    bool requested = !pod.rec.want_running || status.state == State::stopping;
    if (st.is_object()) {
        status.exit_code = st.value("exit_code", 255);
        status.finished_at = st.value("finished_at", rfc3339_now());
        status.state = (*status.exit_code == 0 || requested) ? State::stopped : State::failed;
    } else {
        // The monitor died without a word (killed).
        status.exit_code = 255;
        status.finished_at = rfc3339_now();
        status.state = State::failed;
        status.error = "the container's monitor exited without recording a status";
    }
    status.pid = 0;
    status.monitor_pid = 0;
    status.monitor_start_time = 0;
    // Saved before status.json goes: whoever finds it gone finds the record already telling
    // the end (logs --follow relies on it).
    if (persist) save(pod);
    ::unlink((dir + "/status.json").c_str());
    ::unlink(monitor_socket(pod.rec.spec.name, container).c_str());
    // What is left of the container (its cgroups, kiln-runtime's state, any process that
    // outlived init) goes now, before a restart reuses its id. kilnd never forks: kiln-runtime
    // is spawned for this.
    try {
        wait_child(spawn({paths_.runtime_binary, "--root", paths_.runtime_root(), "delete", "--force",
                          runtime_id(pod.rec.spec.name, container)}));
    } catch (const Error& e) {
        log::error(e.what());
    }
    events_.publish("container.exited", pod.rec.spec.name, container, {{"exitCode", *status.exit_code}});
}

void PodManager::stop_one(Pod& pod, ContainerStatus& status, const std::string& container, int signal, double grace) {
    if (!status.monitor_pid) return;
    Fd pidfd = open_process(status.monitor_pid, status.monitor_start_time);
    if (pidfd && container == kSandbox) {
        // kiln-pause's launcher kills the holder on SIGTERM, reaps it and exits.
        status.state = State::stopping;
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGTERM, nullptr, 0);
        if (!wait_pidfd_exit(pidfd.get(), kKillWaitMs)) {
            ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
            wait_pidfd_exit(pidfd.get(), kKillWaitMs);
        }
    } else if (pidfd) {
        status.state = State::stopping;
        try {
            monitor_request(monitor_socket(pod.rec.spec.name, container), {{"op", "signal"}, {"signal", signal}});
        } catch (const Error& e) {
            log::warn("stopping " + container + ": " + e.what());
        }
        int ms = signal == SIGKILL ? kKillWaitMs : static_cast<int>(grace * 1000);
        if (!wait_pidfd_exit(pidfd.get(), ms)) {
            try {
                monitor_request(monitor_socket(pod.rec.spec.name, container), {{"op", "signal"}, {"signal", SIGKILL}});
            } catch (const Error& e) {
                // A monitor that exits as we ask has answered in its own way.
                if (!wait_pidfd_exit(pidfd.get(), 0)) log::warn("killing " + container + ": " + e.what());
            }
            if (!wait_pidfd_exit(pidfd.get(), kKillWaitMs)) {
                ::kill(status.monitor_pid, SIGKILL);
                wait_pidfd_exit(pidfd.get(), kKillWaitMs);
            }
        }
    }
    collect(pod, status, container, false);
}

void PodManager::stop_locked(Pod& pod, double grace) {
    pod.rec.want_running = false;
    ++pod.generation;
    pod.cv.notify_all();
    const PodSpec& spec = pod.rec.spec;
    // Signal every container first, then wait: the grace period runs once for the pod.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(grace * 1000));
    for (std::size_t i = 0; i < pod.rec.containers.size(); ++i) {
        auto& s = pod.rec.containers[i];
        if (!s.monitor_pid) continue;
        s.state = State::stopping;
    }
    save(pod);
    std::vector<std::thread> stops;
    for (std::size_t i = 0; i < pod.rec.containers.size(); ++i) {
        auto& s = pod.rec.containers[i];
        if (!s.monitor_pid) continue;
        int sig = SIGTERM;
        try {
            sig = signal_number(images_(spec.containers[i].image).defaults.stop_signal, SIGTERM);
        } catch (...) {
        }
        stops.emplace_back([this, &pod, &s, i, sig, deadline] {
            double left = std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count();
            stop_one(pod, s, pod.rec.spec.containers[i].name, sig, left > 0 ? left : 0);
        });
    }
    for (auto& t : stops) t.join();
    // The networks let go while their namespace is still whole.
    if (!pod.rec.networks.empty() && network_detach_) {
        network_detach_(spec, pod.rec.netns, pod.rec.networks);
        pod.rec.networks = json::array();
    }
    stop_one(pod, pod.rec.sandbox, kSandbox, SIGKILL, 0);
    release_network(pod);
    for (const auto& c : spec.containers) unmount(paths_.pod(spec.name) + "/containers/" + c.name + "/rootfs");
    save(pod);
}

PodRecord PodManager::stop(const std::string& name, std::optional<double> timeout) {
    auto pod = find(name);
    // Mark it first, so that a restart waiting for its back-off gives up before we take the lock.
    {
        std::lock_guard lock(pod->mu);
        if (pod->deleted) not_found("pod \"" + name + "\" not found");
        stop_locked(*pod, timeout.value_or(pod->rec.spec.stop_grace_period));
    }
    events_.publish("pod.stopped", name);
    return get(name);
}

void PodManager::remove(const std::string& name, bool force) {
    auto pod = find(name);
    std::lock_guard lock(pod->mu);
    if (pod->deleted) not_found("pod \"" + name + "\" not found");
    State st = pod->rec.state();
    if (!force && (st == State::running || st == State::stopping || pod->rec.sandbox.monitor_pid))
        precondition("pod \"" + name + "\" is " + std::string(state_name(st)) + ": stop it first, or force");
    stop_locked(*pod, 0);
    pod->deleted = true;
    for (const auto& c : pod->rec.spec.containers) unmount(paths_.pod(name) + "/containers/" + c.name + "/rootfs");
    remove_pod_cgroups(cgroup_path(name).substr(1));
    remove_all(paths_.pod(name));
    {
        std::lock_guard l(mu_);
        pods_.erase(name);
    }
    if (pod_released_) pod_released_(pod->rec.spec);
    events_.publish("pod.deleted", name);
}

void PodManager::watch(const std::string& pod, const std::string& container, pid_t pid, std::uint64_t start_time) {
    auto* w = new Watch{pod, container, pid, open_process(pid, start_time)};
    if (!w->pidfd) {
        // Already gone: handle it as an exit now.
        delete w;
        std::lock_guard lock(threads_mu_);
        ++busy_threads_;
        std::thread([this, pod, container, pid] { on_monitor_exit(pod, container, pid); }).detach();
        return;
    }
    struct epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = w;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w->pidfd.get(), &ev) < 0) {
        log::error("watching monitor " + std::to_string(pid) + ": " + std::strerror(errno));
        delete w;
    }
}

void PodManager::watcher_loop() {
    struct epoll_event evs[32];
    while (!stopping_) {
        int n = ::epoll_wait(epoll_fd_, evs, 32, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            log::error(std::string("epoll_wait: ") + std::strerror(errno));
            return;
        }
        for (int i = 0; i < n; ++i) {
            auto* w = static_cast<Watch*>(evs[i].data.ptr);
            if (!w) continue;  // the wake-up eventfd
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, w->pidfd.get(), nullptr);
            if (!stopping_) {
                std::lock_guard lock(threads_mu_);
                ++busy_threads_;
                std::thread([this, pod = w->pod, c = w->container, pid = w->pid] { on_monitor_exit(pod, c, pid); })
                    .detach();
            }
            delete w;
        }
    }
}

void PodManager::on_monitor_exit(const std::string& name, const std::string& container, pid_t monitor_pid) {
    struct Done {
        PodManager* m;
        ~Done() {
            std::lock_guard lock(m->threads_mu_);
            --m->busy_threads_;
            m->threads_cv_.notify_all();
        }
    } done{this};
    std::shared_ptr<Pod> pod;
    try {
        pod = find(name);
    } catch (const Error&) {
        return;
    }
    std::unique_lock lock(pod->mu);
    if (pod->deleted || stopping_) return;
    ContainerStatus* status = container == kSandbox ? &pod->rec.sandbox : nullptr;
    std::size_t index = 0;
    for (std::size_t i = 0; i < pod->rec.containers.size() && !status; ++i)
        if (pod->rec.containers[i].name == container) status = &pod->rec.containers[index = i];
    if (!status || status->monitor_pid != monitor_pid) return;  // already collected by a stop
    collect(*pod, *status, container);
    save(*pod);
    if (!pod->rec.want_running) return;

    if (container == kSandbox) {
        // Without its sandbox a pod has no namespaces to run in: it stops, failed.
        std::string error = "the pod's sandbox exited";
        stop_locked(*pod, 0);
        pod->rec.error = error;
        save(*pod);
        events_.publish("pod.failed", name, {}, {{"error", error}});
        if (pod->rec.spec.restart_policy.kind != RestartPolicy::Kind::always) return;
        // An always-restarting pod comes back whole (after a reboot, for one), unless a stop
        // or a delete comes first.
        std::uint64_t generation = pod->generation;
        pod->cv.wait_for(lock, std::chrono::duration<double>(pod->rec.spec.restart_policy.backoff_initial),
                         [&] { return stopping_ || pod->deleted || pod->generation != generation; });
        if (stopping_ || pod->deleted || pod->generation != generation) return;
        try {
            start_locked(*pod);
            events_.publish("pod.restarted", name);
        } catch (const std::exception& e) {
            log::error("restarting pod " + name + ": " + e.what());
        }
        return;
    }
    const RestartPolicy& policy = pod->rec.spec.restart_policy;
    bool restart = policy.kind == RestartPolicy::Kind::always ||
                   (policy.kind == RestartPolicy::Kind::on_failure && status->exit_code.value_or(1) != 0 &&
                    (policy.max_retries == 0 || status->restart_count < policy.max_retries));
    if (!restart) {
        // When the last container has ended for good the pod has run its course: its sandbox
        // goes, and nothing waits for it any more (kiln run, logs --follow).
        bool all_ended = std::none_of(pod->rec.containers.begin(), pod->rec.containers.end(),
                                      [](const ContainerStatus& c) { return c.monitor_pid != 0; });
        if (all_ended) {
            stop_locked(*pod, 0);
            events_.publish("pod.stopped", name);
        }
        return;
    }
    double backoff = std::min(policy.backoff_max, policy.backoff_initial * std::pow(2.0, std::min(status->restart_count, 30)));
    std::uint64_t generation = pod->generation;
    pod->cv.wait_for(lock, std::chrono::duration<double>(backoff),
                     [&] { return stopping_ || pod->deleted || pod->generation != generation; });
    if (stopping_ || pod->deleted || pod->generation != generation || !pod->rec.want_running) return;
    int restarts = pod->rec.containers[index].restart_count + 1;
    // Counted before the start, whose own record shows the new process: a reader never sees the
    // new pid with the old count.
    pod->rec.containers[index].restart_count = restarts;
    try {
        start_container(*pod, index);
        save(*pod);
        events_.publish("container.restarted", name, container, {{"restartCount", restarts}});
    } catch (const std::exception& e) {
        save(*pod);
        log::error("restarting " + name + "/" + container + ": " + e.what());
    }
}

void PodManager::recover() {
    netns_dir_fresh_ = prepare_netns_dir(paths_.netns());
    DIR* d = ::opendir(paths_.pods().c_str());
    if (!d) throw_sys("opendir", paths_.pods());
    std::vector<std::string> names;
    while (auto* e = ::readdir(d))
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    ::closedir(d);
    for (const auto& name : names) {
        std::string dir = paths_.pod(name);
        auto text = read_file_if_exists(dir + "/pod.json");
        if (!text) {
            // A create that died before its first record: nothing was acknowledged.
            remove_all(dir);
            continue;
        }
        auto pod = std::make_shared<Pod>();
        try {
            pod->rec = record_from_json(json::parse(*text));
        } catch (const std::exception& e) {
            log::error("pod record " + dir + "/pod.json: " + e.what() + " (skipped)");
            continue;
        }
        pod->snapshot = pod->rec;
        {
            std::lock_guard lock(mu_);
            pods_[name] = pod;
        }
        std::lock_guard lock(pod->mu);
        auto adopt = [&](ContainerStatus& s) {
            if (!s.monitor_pid) {
                // kilnd died between spawning a monitor and recording it: the monitor answers on
                // its socket and is adopted all the same.
                try {
                    auto st = monitor_request(monitor_socket(name, s.name), {{"op", "state"}}, 1000);
                    if (!st.value("running", false)) return;
                    s.monitor_pid = st.value("monitor_pid", 0);
                    s.pid = st.value("pid", 0);
                    s.started_at = st.value("started_at", "");
                    if (auto ps = read_proc_stat(s.monitor_pid)) s.monitor_start_time = ps->start_time;
                    s.state = State::running;
                    log::info("adopted the unrecorded monitor of " + name + "/" + s.name);
                    save(*pod);
                } catch (const Error&) {
                    return;
                }
            }
            watch(name, s.name, s.monitor_pid, s.monitor_start_time);
        };
        ContainerStatus& sb = pod->rec.sandbox;
        if (!sb.monitor_pid) {
            if (auto found = find_sandbox(cgroup_path(name, kSandbox))) {
                mark_running(sb, {.monitor_pid = found->launcher_pid, .monitor_start_time = found->launcher_start_time,
                                  .pid = found->pid, .started_at = found->started_at});
                log::info("adopted the unrecorded sandbox of " + name);
                save(*pod);
            }
        }
        if (sb.monitor_pid) watch(name, kSandbox, sb.monitor_pid, sb.monitor_start_time);
        for (auto& c : pod->rec.containers) adopt(c);
    }
}

void PodManager::shutdown(bool stop_pods) {
    if (stop_pods) {
        // The plugins' pods last: the others' networks are detached through them.
        auto pods = list();
        std::stable_partition(pods.begin(), pods.end(), [](const PodRecord& r) { return !r.system; });
        for (const auto& r : pods) {
            try {
                stop(r.spec.name, std::nullopt);
            } catch (const std::exception& e) {
                log::error("stopping pod " + r.spec.name + ": " + e.what());
            }
        }
    }
    stopping_ = true;
    {
        std::lock_guard lock(mu_);
        for (auto& [_, p] : pods_) p->cv.notify_all();
    }
    std::uint64_t one = 1;
    ssize_t ignored = ::write(wake_fd_, &one, sizeof one);
    (void)ignored;
    if (watcher_.joinable()) watcher_.join();
    {
        std::unique_lock lock(threads_mu_);
        threads_cv_.wait_for(lock, std::chrono::seconds(30), [&] { return busy_threads_ == 0; });
    }
    auto left = list();
    if (std::none_of(left.begin(), left.end(), [](const PodRecord& r) { return r.sandbox.monitor_pid != 0; }))
        release_netns_dir(paths_.netns());
    // The cgroup parent goes too when no pod is left in it (rmdir fails harmlessly otherwise).
    // Not per pod: another pod may be creating its cgroup under the parent at that moment.
    for (const auto& m : read_mountinfo("/proc/self/mountinfo"))
        if (m.fstype == "cgroup" || m.fstype == "cgroup2") ::rmdir((m.mount_point + "/" + config_.cgroup_parent).c_str());
}

}  // namespace kiln::daemon
