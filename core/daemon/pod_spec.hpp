// The pod schema shared by the REST API (POST /v1/pods, JSON) and the appliance file (the `pods`
// of kiln.yaml): one parser, one validator, errors that name the field (and, from YAML, the line).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
// The whole of yaml-cpp, not a forward declaration: with YAML::Node incomplete, a call
// parse_pod_spec(json) fails to compile while json's conversion operator is tried against it.
#include <yaml-cpp/yaml.h>

namespace kiln::daemon {

struct ContainerResources {
    std::optional<double> cpus;           // CPUs, e.g. 0.5 (cpu.cfs_quota over a 100 ms period)
    std::optional<std::int64_t> memory;   // bytes; the schema takes 33554432 or "32m"
    std::optional<std::int64_t> pids;     // pids.max

    bool operator==(const ContainerResources&) const = default;
};

struct VolumeMount {
    std::string name;       // a volume of the pod
    std::string path;       // absolute path in the container
    bool read_only = false;

    bool operator==(const VolumeMount&) const = default;
};

struct ContainerSpec {
    std::string name;                     // DNS label, unique in the pod
    std::string image;                    // a local image reference
    std::vector<std::string> command;     // replaces the image's Entrypoint when set
    std::vector<std::string> args;        // replaces the image's Cmd when set
    std::vector<std::string> env;         // "KEY=VALUE", added to (and overriding) the image's
    std::string working_dir;              // absolute; the image's WorkingDir when empty
    std::string user;                     // "uid", "uid:gid", or names from the image's files
    bool tty = false;
    bool stdin = false;
    ContainerResources resources;
    std::vector<VolumeMount> volume_mounts;

    bool operator==(const ContainerSpec&) const = default;
};

struct Volume {
    enum class Kind { named, host };
    std::string name;       // DNS label, unique in the pod
    Kind kind = Kind::named;
    std::string host_path;  // Kind::host: an absolute path on the host
    bool read_only = false; // Kind::host: mounted read-only in every container

    bool operator==(const Volume&) const = default;
};

struct RestartPolicy {
    enum class Kind { never, on_failure, always };
    Kind kind = Kind::never;
    int max_retries = 0;              // on_failure: 0 means unlimited
    double backoff_initial = 1.0;     // seconds before the first restart, doubled each time
    double backoff_max = 300.0;       // seconds, the cap

    bool operator==(const RestartPolicy&) const = default;
};

struct IsolatorRequest {
    std::string name;
    nlohmann::json config = nlohmann::json::object();

    bool operator==(const IsolatorRequest&) const = default;
};

// A host port forwarded to a container port of the pod (by the network plugin: CNI's portmap).
struct PortMapping {
    int host_port = 0, container_port = 0;
    std::string protocol = "tcp";  // tcp or udp
    std::string host_ip;           // "" is every address

    bool operator==(const PortMapping&) const = default;
};

struct PodSpec {
    std::string name;                      // DNS label (RFC 1123), at most 63 characters
    std::vector<ContainerSpec> containers; // at least one; names unique
    std::vector<Volume> volumes;
    std::string hostname;                  // defaults to the pod name
    RestartPolicy restart_policy;
    double stop_grace_period = 10.0;       // seconds between the stop signal and SIGKILL
    bool share_pid = false;                // containers share one pid namespace
    std::vector<std::string> networks;     // empty: the deployment's default; ["none"], ["host"]
    std::vector<IsolatorRequest> isolators;
    std::vector<PortMapping> ports;

    // Field by field: how a reload tells a changed pod from an unchanged one.
    bool operator==(const PodSpec&) const = default;

    // networks: ["host"]: the pod keeps the host's network namespace.
    bool host_network() const { return networks.size() == 1 && networks[0] == "host"; }
};

// Parses and validates a pod from JSON. Throws kiln::Error(invalid_argument) whose message starts
// with the field's path: "containers[0].image: must be a non-empty string". Unknown fields are
// errors.
PodSpec parse_pod_spec(const nlohmann::json& value);
// The same from YAML; the message ends with the line: "... (line 12)".
PodSpec parse_pod_spec(const YAML::Node& value);

// The canonical form: defaults written out (only an empty workingDir or user and unset resource
// limits are left out), lists as lists (env as "K=V", isolators as [{name, config}]),
// restartPolicy as an object, durations as seconds, sizes as bytes. parse_pod_spec() reads it
// back unchanged.
nlohmann::json to_json(const PodSpec& spec);

// A DNS label: 1-63 of [a-z0-9-], starting and ending with a letter or digit.
bool is_dns_label(const std::string& name);

namespace detail {
class SourceMap;
// The one pod reader behind both parse_pod_spec()s and kiln.yaml's `pods`: `value` sits at `path`
// in its document; `source`, when the document was YAML, has the text of its plain scalars. Throws
// detail::FieldError.
PodSpec read_pod_spec(const nlohmann::json& value, const std::string& path, const SourceMap* source);
}  // namespace detail

}  // namespace kiln::daemon
