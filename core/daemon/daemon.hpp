// kilnd's parts in one place: config, paths, events, the image store and the pod manager. The
// REST routes and main() work through this.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <set>
#include <string>

#include "core/daemon/config.hpp"
#include "core/daemon/events.hpp"
#include "core/daemon/plugin_host.hpp"
#include "core/daemon/pod_manager.hpp"
#include "core/image/store.hpp"

namespace kiln::daemon {

class Daemon {
public:
    // `bin_dir` holds kiln-monitor, kiln-pause and kiln-runtime (kilnd's own directory).
    Daemon(Config config, const std::string& bin_dir);
    ~Daemon();

    // Starts the plugins, recovers pods from disk, then starts the appliance pods of the config
    // that are missing.
    void start();
    // Applies a new config's pods (SIGHUP): added pods are created, removed ones deleted,
    // changed ones replaced. Other keys need a restart of kilnd and are reported as such.
    void reload(const Config& next);
    void stop();

    const Config& config() const { return config_; }
    EventBus& events() { return events_; }
    image::Store& images() { return *images_; }
    PodManager& pods() { return *pods_; }
    PluginHost& plugins() { return *plugins_; }
    std::chrono::system_clock::time_point started() const { return started_; }

    // One API request served (the server's access log): counted by method and status, its time
    // in a latency histogram. From any thread.
    void record_request(std::string_view method, int status, std::chrono::microseconds duration);
    // What the instrumentation plugins get every statsInterval: {"time", "pods": [pod_stats +
    // "state", "system"], "api": {"requests": [{"method", "code", "count"}], "duration":
    // {"buckets": [{"le", "count"}], "sum", "count"}}, "plugins": [{"id", "kind", "state"}]}.
    nlohmann::json stats();

    // The image record behind a reference, as the pod manager needs it.
    ImageInfo resolve_image(const std::string& ref);
    // The plugin whose container a pod is, if it is one.
    std::optional<std::string> plugin_of(const std::string& pod) const;
    // Pods using an image (by digest), for a refused delete.
    std::vector<std::string> pods_using(const std::string& digest);
    // The manifest digests every pod's containers were started from or name.
    std::set<std::string> images_in_use();

    // How to reach a registry: the config's settings for it, with credentials from the config or
    // else from the auth file.
    image::RegistryConfig registry_config(const std::string& registry) const;
    // Pulls an image (image::Store::pull) with the registries' settings.
    image::Image pull(const std::string& ref, const image::ImportOptions& options);
    // Checks the credentials against the registry, then stores them in the auth file.
    void login(const std::string& registry, const image::RegistryCredentials& credentials);
    // Forgets the stored credentials; false when there were none.
    bool logout(const std::string& registry);

private:
    // The manifest digests a pod's containers were started from or name.
    std::set<std::string> images_of(const PodRecord& r) const;
    // A plugin's container as a system pod, "plugin-<id>": created, started, or replaced when the
    // manifest changed; a user pod of that name is an error.
    void ensure_plugin_pod(const PluginManifest& m);
    // What the manifest's container asks for, on the OCI spec kilnd made: host namespaces,
    // capabilities, mounts, the API socket.
    nlohmann::json plugin_container_spec(const PluginManifest& m, nlohmann::json spec) const;

    void import_images(const std::vector<ImageSource>& images);
    // A plugin's own image (container.imagePath) under its tag, unless the tag already has it.
    void import_plugin_image(const PluginManifest& m);

    // The network side of a pod (PodManager's networking hooks): each of its networks through
    // its plugin, and back.
    nlohmann::json attach_networks(const PodSpec& pod, const std::string& netns);
    void detach_networks(const PodSpec& pod, const std::string& netns, const nlohmann::json& attachments);
    // The networks a pod joins (its own, or the default ones); empty for none and host.
    std::vector<std::string> networks_of(const PodSpec& pod) const;
    // The network plugin of a network: kiln.yaml's, or else the one started network plugin.
    std::string network_plugin(const std::string& network) const;
    nlohmann::json network_request(const PodSpec& pod, const std::string& netns, std::size_t index,
                                   const std::string& network) const;
    void wait_for_plugins();
    void apply_appliance(const std::vector<PodSpec>& pods, const std::vector<PodSpec>& previous);

    Config config_;
    Paths paths_;
    EventBus events_;
    std::unique_ptr<image::Store> images_;
    std::unique_ptr<PodManager> pods_;
    std::unique_ptr<PluginHost> plugins_;
    std::thread event_relay_;  // events -> instrumentation plugins
    std::thread stats_relay_;  // stats -> instrumentation plugins, every statsInterval
    std::mutex api_mu_;
    std::map<std::pair<std::string, int>, std::uint64_t> api_requests_;
    std::vector<std::uint64_t> api_buckets_;  // counts per kLatencyBuckets bound (not cumulative)
    double api_seconds_ = 0;
    std::uint64_t api_count_ = 0;
    mutable std::mutex system_mu_;
    std::map<std::string, PluginManifest> system_pods_;  // pod name -> its plugin
    std::chrono::system_clock::time_point started_;
    std::mutex plugins_ready_mu_;
    std::condition_variable plugins_ready_cv_;
    bool plugins_ready_ = false;
    bool stats_stop_ = false;  // under plugins_ready_mu_
    void stop_stats();
};

}  // namespace kiln::daemon
