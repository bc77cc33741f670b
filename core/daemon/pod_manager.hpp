// Pods: their records on disk, their sandboxes (kiln-pause) and containers (each run by a
// kiln-monitor),
// restart policies, stop and delete, and adoption of running pods when kilnd starts again.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/daemon/bundle.hpp"
#include "core/daemon/config.hpp"
#include "core/daemon/events.hpp"
#include "core/daemon/pod_spec.hpp"
#include "core/sys/spawn.hpp"

namespace kiln::daemon {

// Where kilnd keeps things; every path derives from the config, so instances run side by side.
struct Paths {
    std::string state_dir, run_dir;
    std::string monitor_binary, pause_binary, runtime_binary;

    std::string pods() const { return state_dir + "/pods"; }
    std::string pod(const std::string& name) const { return pods() + "/" + name; }
    std::string runtime_root() const { return run_dir + "/runtime"; }
    std::string monitors() const { return run_dir + "/monitors"; }
    std::string netns() const { return run_dir + "/netns"; }
};

enum class State { created, running, stopping, stopped, failed };
std::string_view state_name(State s);
State state_from_name(const std::string& s);

struct ContainerStatus {
    std::string name;
    State state = State::created;
    pid_t pid = 0;
    pid_t monitor_pid = 0;
    std::uint64_t monitor_start_time = 0;
    std::string started_at, finished_at;
    std::optional<int> exit_code;
    int restart_count = 0;
    std::string error;
    std::string image_digest;
};

struct PodRecord {
    PodSpec spec;
    std::string created_at;
    bool want_running = false;  // what the user asked for; restarts follow it
    bool system = false;        // a plugin's pod
    std::string error;
    ContainerStatus sandbox;
    std::vector<ContainerStatus> containers;
    // While the sandbox lives (and the pod has its own network namespace): the netns file the
    // network plugins were given, and each network's attachment as its plugin reported it
    // ({"network", "plugin", "ifname", "interfaces", "ips", "routes", "dns", "attachMs"}).
    std::string netns;
    nlohmann::json networks = nlohmann::json::array();
    // The pod's own user namespace, while its sandbox has one: {"uidMappings", "gidMappings"}
    // (containerID, hostID, size each), null otherwise.
    nlohmann::json userns;

    State state() const;  // rolled up
};

nlohmann::json to_json(const ContainerStatus& s);
nlohmann::json to_json(const PodRecord& r);
PodRecord record_from_json(const nlohmann::json& j);

// How the manager reaches images; kilnd passes the image store.
struct ImageInfo {
    std::string digest;
    ImageDefaults defaults;
    std::vector<std::string> lower_dirs;  // topmost first
};
using ImageResolver = std::function<ImageInfo(const std::string& ref)>;

class PodManager {
public:
    PodManager(Config config, Paths paths, EventBus& events, ImageResolver images);

    // Isolation by plugins: `check` refuses a pod whose isolators cannot be had (invalid_argument
    // naming the field) before anything is made; `edit` gives each container's OCI spec to them.
    using IsolationCheck = std::function<void(const PodSpec&)>;
    using SpecEdit = std::function<nlohmann::json(const PodSpec&, const ContainerSpec&, nlohmann::json)>;
    void set_isolation(IsolationCheck check, SpecEdit edit) {
        isolation_check_ = std::move(check);
        spec_edit_ = std::move(edit);
    }
    // Networks by plugins: `attach` joins a pod's netns (a file under <runDir>/netns) to its
    // networks and returns the attachments, or throws having undone them; `detach` undoes them
    // and reports nothing (what fails is logged).
    using NetworkAttach = std::function<nlohmann::json(const PodSpec&, const std::string& netns)>;
    using NetworkDetach = std::function<void(const PodSpec&, const std::string& netns, const nlohmann::json& attachments)>;
    // What the pod's isolators ask of its sandbox ({"userns": ...} or {}), and the news that a
    // pod is gone (for the isolators that keep something per pod).
    using SandboxSettings = std::function<nlohmann::json(const PodSpec&)>;
    using PodReleased = std::function<void(const PodSpec&)>;
    void set_sandbox_hooks(SandboxSettings settings, PodReleased released) {
        sandbox_settings_ = std::move(settings);
        pod_released_ = std::move(released);
    }
    void set_networking(NetworkAttach attach, NetworkDetach detach) {
        network_attach_ = std::move(attach);
        network_detach_ = std::move(detach);
    }
    ~PodManager();

    // Reads every record, adopts running monitors, and collects what ended while kilnd was away.
    void recover();

    // `system`: a plugin's pod (its container), listed as such.
    PodRecord create(const PodSpec& spec, bool start, bool system = false);
    // Runs argv in a running container (kiln-runtime exec, spawned), `input` on its stdin, and
    // returns its exit code and output (at most 4 MiB of each).
    using ExecOutput = Captured;
    ExecOutput exec(const std::string& pod, const std::string& container, const std::vector<std::string>& argv,
                    const std::string& input);
    PodRecord start(const std::string& name);
    // SIGTERM (or the image's StopSignal), SIGKILL after the grace period (or `timeout`).
    PodRecord stop(const std::string& name, std::optional<double> timeout);
    // A pod that is not stopped needs `force` (it is stopped first, without grace).
    void remove(const std::string& name, bool force);
    std::vector<PodRecord> list() const;
    PodRecord get(const std::string& name) const;

    // For logs, exec, attach and stats.
    std::string log_path(const std::string& pod, const std::string& container) const;
    std::string runtime_id(const std::string& pod, const std::string& container) const;
    std::string monitor_socket(const std::string& pod, const std::string& container) const;
    std::string cgroup_path(const std::string& pod, const std::string& container = {}) const;
    // The container's status, or not_found naming the pod or the container.
    ContainerStatus container(const std::string& pod, const std::string& container) const;

    // kilnd is stopping: with `stop_pods`, every pod is stopped; else the monitors run on.
    void shutdown(bool stop_pods);
    const Paths& paths() const { return paths_; }
    // recover() had to mount <runDir>/netns anew: running network plugin containers predate it.
    bool netns_dir_fresh() const { return netns_dir_fresh_; }
    const Config& config() const { return config_; }

private:
    struct Pod;
    std::shared_ptr<Pod> find(const std::string& name) const;
    void save(const Pod& pod) const;
    void start_locked(Pod& pod);
    void start_sandbox(Pod& pod);
    void release_network(Pod& pod);
    void start_container(Pod& pod, std::size_t index);
    void stop_locked(Pod& pod, double grace);
    // stop_one runs on one thread per container during a stop; the stop saves the record after.
    void stop_one(Pod& pod, ContainerStatus& status, const std::string& id, int signal, double grace);
    // `persist`: save the record before status.json goes (false on stop_one's threads, which
    // must not write the record concurrently; a stop has saved "stopping" already).
    void collect(Pod& pod, ContainerStatus& status, const std::string& id, bool persist = true);
    void teardown_container(Pod& pod, const std::string& container);
    void watch(const std::string& pod, const std::string& container, pid_t monitor_pid, std::uint64_t start_time);
    void on_monitor_exit(const std::string& pod, const std::string& container, pid_t monitor_pid);
    void watcher_loop();

    Config config_;
    Paths paths_;
    EventBus& events_;
    ImageResolver images_;
    IsolationCheck isolation_check_;
    SpecEdit spec_edit_;
    NetworkAttach network_attach_;
    NetworkDetach network_detach_;
    SandboxSettings sandbox_settings_;
    PodReleased pod_released_;
    bool netns_dir_fresh_ = false;

    mutable std::mutex mu_;  // guards pods_ (the map), not the pods
    std::map<std::string, std::shared_ptr<Pod>> pods_;

    struct Watch;
    std::mutex watch_mu_;
    std::vector<Watch*> pending_watches_;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread watcher_;
    std::mutex threads_mu_;
    std::condition_variable threads_cv_;
    int busy_threads_ = 0;
};

}  // namespace kiln::daemon
