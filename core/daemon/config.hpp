// kilnd's configuration: /etc/kiln/kiln.yaml, or the embedded default (configs/kiln.yaml), with
// command-line flags on top. Unknown keys and wrong types are errors naming the key and its line.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/daemon/pod_spec.hpp"

namespace kiln::daemon {

struct ApiConfig {
    std::string socket;                      // default: <run_dir>/kiln.sock
    unsigned socket_mode = 0660;             // YAML: "0660", 0660 or 660, octal as for chmod
    std::string socket_group;                // group name or number; empty: root's
    std::uint64_t max_body_bytes = 1 << 20;  // request bodies above this get 413
    double request_timeout = 30.0;           // seconds to read a request
    double idle_timeout = 120.0;             // seconds a keep-alive connection may idle

    bool operator==(const ApiConfig&) const = default;
};

struct LogConfig {
    std::string level = "info";   // trace debug info warn error
    std::string format = "text";  // text | json

    bool operator==(const LogConfig&) const = default;
};

struct ContainerLogConfig {
    std::uint64_t max_size = 10 << 20;  // bytes before a container's log rotates
    int max_files = 3;                  // rotated files kept

    bool operator==(const ContainerLogConfig&) const = default;
};

// An image an appliance needs, imported at start when no image has its tag yet.
struct ImageSource {
    std::string path;  // an OCI layout directory or oci-archive on the host
    std::string tag;
    bool operator==(const ImageSource&) const = default;
};

// How kilnd reaches one registry (keyed by its name as references write it: "host[:port]").
struct RegistrySettings {
    // Plain http when true, https (TLS) when false; unset: http for localhost and 127.0.0.0/8 only.
    std::optional<bool> insecure;
    std::string ca_file;    // PEM, trusted besides the system store
    std::string username, password;  // instead of what `kiln login` stored

    bool operator==(const RegistrySettings&) const = default;
};

// A network pods may join (kiln.yaml `networks`): the network plugin that attaches pods to it, and
// that plugin's description of it (for the CNI plugin, a conflist).
struct NetworkDef {
    std::string name;    // DNS label, not "none" or "host"
    std::string plugin;  // a network plugin's id
    nlohmann::json config = nlohmann::json::object();

    bool operator==(const NetworkDef&) const = default;
};
// The embedded default's one network, "default": bridge kiln0, host-local on 10.88.0.0/16, portmap.
std::vector<NetworkDef> default_network_defs();

struct Config {
    std::string state_dir = "/var/lib/kiln";
    std::string run_dir = "/run/kiln";
    std::string cgroup_parent = "kiln";
    bool stop_pods_on_exit = false;  // SIGTERM stops kilnd only, unless this is set
    ApiConfig api;
    LogConfig log;
    ContainerLogConfig container_logs;
    std::vector<ImageSource> images;  // imported before the pods start
    std::map<std::string, RegistrySettings> registries;
    std::string auth_file;            // `kiln login`'s credentials; "" is <state_dir>/auth.json
    std::vector<PodSpec> pods;       // appliance mode: started at boot, reconciled on SIGHUP
    std::vector<NetworkDef> networks = default_network_defs();
    // What a pod that names no network joins; empty: a network namespace of its own with lo only.
    std::vector<std::string> default_networks{"default"};
    nlohmann::json plugins = nlohmann::json::object();
    // Each subdirectory with a plugin.yaml is a plugin; a relative path is taken from kilnd's own
    // directory (../lib/kiln/plugins: /usr/lib/kiln/plugins installed, build/lib/... in a build).
    std::vector<std::string> plugin_dirs{"../lib/kiln/plugins"};
    std::vector<std::string> required_plugins;  // ids: kilnd does not start without them
    std::vector<std::string> disabled_plugins{"gateway"};  // ids: found, listed as disabled, not loaded
    double stats_interval = 10.0;  // seconds between the stats handed to instrumentation plugins

    const NetworkDef* network(const std::string& name) const {
        for (const auto& n : networks)
            if (n.name == name) return &n;
        return nullptr;
    }

    std::string source;  // the file it came from, or "<embedded>"

    std::string socket_path() const { return api.socket.empty() ? run_dir + "/kiln.sock" : api.socket; }
    std::string auth_path() const { return auth_file.empty() ? state_dir + "/auth.json" : auth_file; }

    // Every field, `source` included.
    bool operator==(const Config&) const = default;
};

inline constexpr const char* default_config_path = "/etc/kiln/kiln.yaml";

// Parses a config. `source` names the text in errors: "kiln.yaml:12: api.socketMode: ...". Throws
// kiln::Error(invalid_argument). An empty document is all defaults.
Config parse_config(const std::string& text, const std::string& source);
// Reads `path`; when `path` is empty, /etc/kiln/kiln.yaml if it exists, else the embedded default.
// A file that cannot be read is a SysError naming it (not_found when it is missing).
Config load_config(const std::string& path);
// configs/kiln.yaml as built in.
std::string_view embedded_default_config();

}  // namespace kiln::daemon
