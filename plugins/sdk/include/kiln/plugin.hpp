// The kiln plugin SDK: the only header a plugin needs.
//
// A plugin is a shared library with a plugin.yaml beside it (id, kind, version, abi, library,
// requires, config, container). kilnd reads the manifest, checks the ABI version the library
// reports against its own before it calls anything else, then creates the plugin through the
// factory KILN_PLUGIN exports, handing it a HostContext. Everything crosses the boundary as
// std::string (JSON text where a value is structured), so a plugin depends on no kiln type
// beyond this file and on no JSON library in particular.
//
//   #include <kiln/plugin.hpp>
//   class Tagger : public kiln::sdk::IsolatorPlugin {
//   public:
//       explicit Tagger(kiln::sdk::HostContext& host) : host_(host) {}
//       std::string edit_spec(const std::string& spec, const std::string& request) override { ... }
//   private:
//       kiln::sdk::HostContext& host_;
//   };
//   KILN_PLUGIN(Tagger)
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/alias.hpp>

namespace kiln::sdk {

// Bumped whenever anything in this header changes in a way a built plugin would notice.
inline constexpr std::uint32_t kAbiVersion = 2;

enum class LogLevel { debug, info, warn, error };

struct ExecResult {
    int exit_code = -1;
    std::string out, err;
};

struct ApiResponse {
    int status = 0;
    std::string body;  // JSON text
};

// What kilnd offers a plugin. Every call may come from any thread.
class HostContext {
public:
    virtual ~HostContext() = default;
    virtual void log(LogLevel level, const std::string& message) = 0;
    // The plugin's config: its manifest's defaults with its section of kiln.yaml over them.
    virtual std::string config_json() const = 0;
    // A directory of the plugin's own under kilnd's state dir, kept across restarts.
    virtual std::string state_dir() const = 0;
    // Runs argv inside the plugin's container (its manifest's `container`), with `input` on
    // stdin. Throws std::runtime_error when the plugin has no container or it is not running.
    virtual ExecResult exec(const std::vector<std::string>& argv, const std::string& input = {}) = 0;
    // A request to kilnd's REST API (method, path such as "/v1/pods", JSON body). Throws
    // std::runtime_error unless the manifest grants API access (container.apiAccess), and when
    // called before kilnd serves its API: it does once every plugin has started, so not from
    // start().
    virtual ApiResponse api(const std::string& method, const std::string& path, const std::string& body = {}) = 0;
    // The path of kilnd's API socket on the host (for an isolator that mounts it into a container).
    virtual std::string api_socket() const = 0;
};

class Plugin {
public:
    virtual ~Plugin() = default;
    // Called once, after every plugin it requires has started; a throw fails the plugin.
    virtual void start() {}
    // Called once before kilnd unloads it.
    virtual void stop() {}
};

// kind: network. Attaches a pod's network namespace to one network and detaches it. kilnd may
// call these concurrently for different pods. Every request is JSON:
//   {"pod", "network", "netns" (a bind-mounted netns file under kilnd's run dir, the same path
//    inside a network plugin's container), "ifname" ("eth0", "eth1", ...), "portMappings":
//    [{"hostPort", "containerPort", "protocol" ("tcp"|"udp"), "hostIP"}], "config": the
//    network's config from kiln.yaml (null when kiln.yaml does not list the network)}
// attach answers JSON:
//   {"interfaces": [{"name", "mac", "sandbox"}], "ips": [{"address" (CIDR), "gateway",
//    "interface" (index)}], "routes": [{"dst", "gw"}], "dns": {"nameservers": [], "domain",
//    "search": [], "options": []}}
// and throws std::runtime_error with the reason when it fails, having undone what it did.
// detach must succeed for an attachment that is half made or already gone (the netns file may
// be missing). check throws when the attachment is not as attach left it. gc gets every
// attachment kilnd still holds ({"attachments": [{"pod", "network", "ifname"}]}); the plugin
// releases whatever else it holds.
class NetworkPlugin : public Plugin {
public:
    virtual std::string attach(const std::string& request) = 0;
    virtual void detach(const std::string& request) = 0;
    virtual void check(const std::string& request) { (void)request; }
    virtual void gc(const std::string& attachments) { (void)attachments; }
};

// kind: isolator. Edits a container's OCI runtime spec (JSON text) from what the pod asks of
// this isolator (JSON: {"pod", "container", "config"}), and returns the spec.
// sandbox() is asked before the pod's sandbox starts ({"pod", "config"}) and answers what the
// sandbox itself needs (JSON; "{}" for nothing): {"userns": {"uidMappings": [{"containerID",
// "hostID", "size"}], "gidMappings": [...]}} gives the pod a user namespace of its own, which owns
// its other namespaces, and which its containers join. release() hears that the pod is gone
// ({"pod"}), for an isolator that keeps something per pod.
class IsolatorPlugin : public Plugin {
public:
    virtual std::string edit_spec(const std::string& spec, const std::string& request) = 0;
    virtual std::string sandbox(const std::string& request) {
        (void)request;
        return "{}";
    }
    virtual void release(const std::string& request) { (void)request; }
};

// kind: instrumentation. Hears kilnd's events ({"id", "type", "pod", "container", "time",
// ...}) and periodic stats ({"pods": [...]}), both JSON.
class InstrumentationPlugin : public Plugin {
public:
    virtual void on_event(const std::string& event) = 0;
    virtual void on_stats(const std::string& stats) { (void)stats; }
};

}  // namespace kiln::sdk

// The symbols kilnd looks up: the ABI version first, then the factory.
#define KILN_PLUGIN(Class)                                                                          \
    namespace kiln_plugin_exports {                                                                 \
    inline std::uint32_t kiln_plugin_abi() { return ::kiln::sdk::kAbiVersion; }                     \
    inline ::kiln::sdk::Plugin* kiln_plugin_create(::kiln::sdk::HostContext& host) { return new Class(host); } \
    }                                                                                               \
    BOOST_DLL_ALIAS(kiln_plugin_exports::kiln_plugin_abi, kiln_plugin_abi)                          \
    BOOST_DLL_ALIAS(kiln_plugin_exports::kiln_plugin_create, kiln_plugin_create)
