// The plugin host: finds plugins (a plugin.yaml in each subdirectory of the configured plugin
// directories), orders them by what they require, checks each one's ABI version, loads its
// library with Boost.DLL and starts it with its config. A plugin that cannot be loaded or
// started is kept in the list as failed, with the reason, unless kiln.yaml marks it required:
// then kilnd does not start. Boost.DLL stays in plugin_host.cpp.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/daemon/config.hpp"
#include "core/daemon/plugin_manifest.hpp"
#include "core/daemon/pod_spec.hpp"

namespace kiln::sdk {
class Plugin;
class InstrumentationPlugin;
}

namespace kiln::daemon {

// The order isolators edit a spec in, whatever order a pod names them.
inline constexpr const char* kIsolatorOrder[] = {"resources", "seccomp", "capabilities", "privileged", "namespaces",
                                                 "host-access", "api-access", "userns", "readonly-rootfs"};

enum class PluginState { loaded, started, failed, stopped, disabled };
std::string_view plugin_state_name(PluginState s);

struct PluginStatus {
    PluginManifest manifest;  // as read; id and dir always set
    PluginState state = PluginState::failed;
    std::string error;        // why it failed
    bool required = false;
    nlohmann::json config;    // what it was given
};
nlohmann::json to_json(const PluginStatus& s);

// A REST request on behalf of a plugin granted API access: (method, path, body) -> (status, body).
using PluginApiFn = std::function<std::pair<int, std::string>(const std::string&, const std::string&, const std::string&)>;

// How the host has a plugin's container run: kilnd makes it a system pod.
struct PluginContainerHooks {
    // The plugin's container created (or found) and running; throws why not.
    std::function<void(const PluginManifest&)> ensure;
    // argv run in it with `input` on stdin: exit code, stdout, stderr.
    std::function<std::tuple<int, std::string, std::string>(const PluginManifest&, const std::vector<std::string>&,
                                                            const std::string&)>
        exec;
    // The plugin failed after its container was made: the container goes.
    std::function<void(const PluginManifest&)> release;
};

class PluginHost {
public:
    // `base_dir` is where a relative plugin directory starts (kilnd's own directory).
    PluginHost(const Config& config, std::string state_dir, std::string base_dir = "/", PluginApiFn api = {});
    ~PluginHost();
    PluginHost(const PluginHost&) = delete;
    PluginHost& operator=(const PluginHost&) = delete;

    void set_container_hooks(PluginContainerHooks hooks) { hooks_ = std::move(hooks); }
    // How HostContext::api reaches kilnd's REST API; before start().
    void set_api(PluginApiFn api) { api_ = std::move(api); }

    // Discovers, orders, loads and starts every plugin (a plugin's container before the plugin). Throws kiln::Error naming the plugin
    // when a required one fails, after stopping what started.
    void start();
    // Stops the started plugins in the reverse order and unloads them.
    void stop();

    // Every isolator a pod names must be a started isolator plugin: otherwise invalid_argument
    // naming isolators[i].name.
    void check_isolators(const PodSpec& pod) const;
    // Gives a container's OCI spec to the pod's isolators in the defined order (kIsolatorOrder,
    // then the others in the pod's order); each gets {"pod", "container", "config"}.
    nlohmann::json apply_isolators(const PodSpec& pod, const ContainerSpec& container, nlohmann::json spec);

    // What the pod's isolators ask of its sandbox (IsolatorPlugin::sandbox), merged in the
    // defined order: {"userns": {"uidMappings", "gidMappings"}} or {}. Two isolators that ask for
    // the same key, or an answer that is not a JSON object, fail with the isolator's name.
    nlohmann::json sandbox_settings(const PodSpec& pod);
    // The pod is gone: each of its isolators hears it (what one throws is logged).
    void release_pod(const PodSpec& pod);

    // Hands an event (JSON) to every started instrumentation plugin; what one throws is logged.
    void deliver_event(const nlohmann::json& event);
    // Hands the periodic stats (JSON) to every started instrumentation plugin.
    void deliver_stats(const nlohmann::json& stats);
    // Whether any instrumentation plugin is started (stats are gathered only then).
    bool has_instrumentation() const;

    // Network plugins, called concurrently (a shared lock: start and stop wait for them). Each
    // throws kiln::Error(failed_precondition) naming the plugin when it is not a started network
    // plugin, or with what the plugin threw.
    nlohmann::json network_attach(const std::string& plugin, const nlohmann::json& request);
    void network_detach(const std::string& plugin, const nlohmann::json& request);
    void network_check(const std::string& plugin, const nlohmann::json& request);
    // Each started network plugin hears the attachments kilnd holds (each {"pod", "network",
    // "ifname", "plugin"}): those of its own.
    void network_gc(const nlohmann::json& attachments);

    std::vector<PluginStatus> list() const;
    std::optional<PluginStatus> get(const std::string& id) const;

private:
    struct Loaded;
    void load_one(PluginStatus& status);
    void stop_locked();  // requires mu_

    const Config& config_;
    std::string state_dir_, base_dir_;
    PluginApiFn api_;
    PluginContainerHooks hooks_;
    template <class Fn>
    auto with_network(const std::string& plugin, Fn fn);
    // The pod's isolator requests in the order they apply.
    static std::vector<const IsolatorRequest*> ordered_isolators(const PodSpec& pod);
    // fn on every started instrumentation plugin, in start order; what one throws is logged.
    void to_instrumentation(const char* what, const std::function<void(sdk::InstrumentationPlugin&)>& fn);

    mutable std::shared_mutex mu_;
    std::vector<PluginStatus> plugins_;  // in start order (failed ones where they were found)
    std::map<std::string, std::unique_ptr<Loaded>> loaded_;
    std::vector<std::string> start_order_;
};

}  // namespace kiln::daemon
