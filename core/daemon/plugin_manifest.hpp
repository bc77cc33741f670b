// plugin.yaml: what a plugin is (id, kind, version, ABI version, library), what it needs
// (requires: plugin ids or kinds), its default config, and the container its work runs in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::daemon {

struct PluginMount {
    std::string source, destination;  // source may start with ${stateDir}: the plugin's state dir
    bool readonly = true;
};

struct PluginContainer {
    std::string image;
    // An OCI layout directory or oci-archive shipped with the plugin (absolute, resolved against
    // the manifest's directory): imported under `image` when that tag is missing or differs.
    std::string image_path;
    std::vector<std::string> host_namespaces;  // of net, pid, ipc, uts: shared with the host
    std::vector<std::string> capabilities;     // CAP_NET_ADMIN, ...
    std::vector<PluginMount> mounts;
    // Paths under /proc and /sys left writable and unmasked (the CNI plugins write /proc/sys).
    std::vector<std::string> writable_paths;
    bool api_access = false;                   // the kilnd socket mounted inside, and HostContext::api
    std::vector<std::string> command;          // empty: the image's
};

struct PluginManifest {
    std::string id;       // DNS label
    std::string kind;     // network, isolator, instrumentation
    std::string version;
    std::uint32_t abi = 0;
    std::string library;  // absolute (resolved against the manifest's directory)
    std::vector<std::string> requires_;  // plugin ids, or kinds ("kind:network")
    nlohmann::json config = nlohmann::json::object();
    bool has_container = false;
    PluginContainer container;

    std::string dir;  // where plugin.yaml is
};

inline constexpr const char* kPluginKinds[] = {"network", "isolator", "instrumentation"};

// Reads <dir>/plugin.yaml. Errors are kiln::Error(invalid_argument) "<file>:<line>: <key>: ...".
PluginManifest load_plugin_manifest(const std::string& dir);
PluginManifest parse_plugin_manifest(const std::string& text, const std::string& source, const std::string& dir);

}  // namespace kiln::daemon
