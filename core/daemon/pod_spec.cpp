// The pod schema: one reader over JSON values, fed directly by the REST API and through
// yaml_to_json() by YAML files; and the canonical JSON form.
#include "core/daemon/pod_spec.hpp"

#include <arpa/inet.h>

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "core/daemon/field_reader.hpp"
#include "core/daemon/yaml_tree.hpp"

namespace kiln::daemon {

using json = nlohmann::json;
using namespace detail;

namespace {

// Below this a container's init and its first allocations are killed by the OOM killer before
// anything useful runs; Docker's floor is the same order (6 MiB).
constexpr std::int64_t min_memory = 4 << 20;

constexpr const char* dns_label_rule = "is not a DNS label (lowercase letters, digits and '-', at most 63)";

std::string read_dns_label(const json& value, const std::string& path) {
    std::string s = read_string(value, path);
    if (!is_dns_label(s)) fail(path, shown(s) + " " + dns_label_rule);
    return s;
}

// RFC 1123 names separated by dots, letters of either case, at most 64 bytes: sethostname()'s
// limit in the pod's UTS namespace.
bool is_hostname(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    std::size_t start = 0;
    for (;;) {
        std::size_t dot = name.find('.', start);
        std::string label = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        std::string lower;
        for (char c : label) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (!is_dns_label(lower)) return false;
        if (dot == std::string::npos) return true;
        start = dot + 1;
    }
}

// POSIX portable names: what every shell can expand.
bool is_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    return true;
}

void check_env_name(const std::string& name, const std::string& path) {
    if (!is_env_name(name))
        fail(path, shown(name) + " is not a variable name (letters, digits and '_', not starting "
                                  "with a digit)");
}

// env: ["K=V", ...] or {K: V}; later tools read the list form only.
std::vector<std::string> read_env(const json& value, const std::string& path, const SourceMap* source) {
    std::vector<std::string> env;
    std::map<std::string, std::string> seen;  // name -> path of its first setting
    auto add = [&](const std::string& name, const std::string& entry, const std::string& entry_path) {
        auto [it, fresh] = seen.emplace(name, entry_path);
        if (!fresh) fail(entry_path, shown(name) + " is already set by " + it->second);
        env.push_back(entry);
    };
    if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
            std::string item_path = index_path(path, i);
            std::string entry = read_string(value[i], item_path);
            auto eq = entry.find('=');
            if (eq == std::string::npos) fail(item_path, shown(entry) + " is not KEY=VALUE");
            check_env_name(entry.substr(0, eq), item_path);
            add(entry.substr(0, eq), entry, item_path);
        }
    } else if (value.is_object()) {
        for (const auto& [name, v] : value.items()) {
            std::string item_path = join_path(path, name);
            check_env_name(name, item_path);
            std::string text;
            if (v.is_string()) {
                text = v.get<std::string>();
            } else if (v.is_number() || v.is_boolean()) {
                // From YAML, the value as written: "1.10" stays "1.10".
                const std::string* written = source ? source->text_of(item_path) : nullptr;
                text = written ? *written : v.dump();
            } else {
                wrong_type(v, item_path, "a string, number or boolean");
            }
            add(name, name + "=" + text, item_path);
        }
    } else {
        wrong_type(value, path, "an array of \"KEY=VALUE\" strings or an object");
    }
    return env;
}

std::string read_user(const json& value, const std::string& path) {
    if (value.is_number_integer()) return std::to_string(read_int(value, path, 0, UINT32_MAX - 1));
    if (!value.is_string()) wrong_type(value, path, "a string (\"uid\", \"uid:gid\", \"name\") or an integer uid");
    std::string user = value.get<std::string>();
    auto colon = user.find(':');
    if (colon != std::string::npos &&
        (colon == 0 || colon + 1 == user.size() || user.find(':', colon + 1) != std::string::npos))
        fail(path, shown(user) + " is not \"user\" or \"user:group\"");
    return user;
}

double read_cpus(const json& value, const std::string& path) {
    double cpus;
    if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cpus, std::chars_format::fixed);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(cpus))
            fail(path, shown(value) + " is not a number of CPUs");
    } else if (value.is_number()) {
        cpus = read_number(value, path);
    } else {
        wrong_type(value, path, "a number of CPUs (0.5) or a string (\"0.5\")");
    }
    if (!(cpus > 0)) fail(path, "must be more than 0");
    return cpus;
}

ContainerResources read_resources(const json& value, const std::string& path) {
    ObjectReader r(value, path, {"cpus", "memory", "pids"});
    ContainerResources res;
    if (auto* v = r.get("cpus")) res.cpus = read_cpus(*v, r.path("cpus"));
    if (auto* v = r.get("memory")) {
        res.memory = read_size(*v, r.path("memory"));
        if (*res.memory < min_memory)
            fail(r.path("memory"), std::to_string(*res.memory) + " bytes is below the minimum of 4 MiB (\"4m\")");
    }
    if (auto* v = r.get("pids")) res.pids = read_int(*v, r.path("pids"), 1, std::numeric_limits<std::int64_t>::max());
    return res;
}

// Equal paths name the same mount point: "/data/", "/data" and "//data/." are one.
std::string normal_path(const std::string& path) {
    std::string out;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t next = path.find('/', i);
        if (next == std::string::npos) next = path.size();
        std::string part = path.substr(i, next - i);
        if (!part.empty() && part != ".") out += "/" + part;
        i = next + 1;
    }
    return out.empty() ? "/" : out;
}

std::vector<VolumeMount> read_volume_mounts(const json& value, const std::string& path,
                                            const std::vector<Volume>& volumes) {
    if (!value.is_array()) wrong_type(value, path, "an array");
    std::vector<VolumeMount> mounts;
    std::map<std::string, std::string> at;  // normal path -> the mount's own path in messages
    for (std::size_t i = 0; i < value.size(); ++i) {
        ObjectReader r(value[i], index_path(path, i), {"name", "path", "readOnly"});
        VolumeMount m;
        m.name = read_string(r.require("name"), r.path("name"));
        bool known = false;
        for (const auto& v : volumes) known = known || v.name == m.name;
        if (!known) fail(r.path("name"), "no volume " + shown(m.name) + " in the pod's volumes");
        m.path = read_absolute_path(r.require("path"), r.path("path"));
        std::string normal = normal_path(m.path);
        if (normal == "/") fail(r.path("path"), "a volume cannot be mounted over the container's /");
        auto [it, fresh] = at.emplace(normal, index_path("volumeMounts", i));
        if (!fresh) fail(r.path("path"), shown(m.path) + " is already mounted by " + it->second);
        if (auto* v = r.get("readOnly")) m.read_only = read_bool(*v, r.path("readOnly"));
        mounts.push_back(std::move(m));
    }
    return mounts;
}

ContainerSpec read_container(const json& value, const std::string& path, const std::vector<Volume>& volumes,
                             const SourceMap* source) {
    ObjectReader r(value, path,
                   {"name", "image", "command", "args", "env", "workingDir", "user", "tty", "stdin", "resources",
                    "volumeMounts"});
    ContainerSpec c;
    c.name = read_dns_label(r.require("name"), r.path("name"));
    c.image = read_non_empty_string(r.require("image"), r.path("image"));
    if (auto* v = r.get("command")) c.command = read_string_array(*v, r.path("command"));
    if (auto* v = r.get("args")) c.args = read_string_array(*v, r.path("args"));
    if (auto* v = r.get("env")) c.env = read_env(*v, r.path("env"), source);
    if (auto* v = r.get("workingDir")) c.working_dir = read_absolute_path(*v, r.path("workingDir"));
    if (auto* v = r.get("user")) c.user = read_user(*v, r.path("user"));
    if (auto* v = r.get("tty")) c.tty = read_bool(*v, r.path("tty"));
    if (auto* v = r.get("stdin")) c.stdin = read_bool(*v, r.path("stdin"));
    if (auto* v = r.get("resources")) c.resources = read_resources(*v, r.path("resources"));
    if (auto* v = r.get("volumeMounts")) c.volume_mounts = read_volume_mounts(*v, r.path("volumeMounts"), volumes);
    return c;
}

std::vector<Volume> read_volumes(const json& value, const std::string& path) {
    if (!value.is_array()) wrong_type(value, path, "an array");
    std::vector<Volume> volumes;
    std::map<std::string, std::string> names;
    for (std::size_t i = 0; i < value.size(); ++i) {
        ObjectReader r(value[i], index_path(path, i), {"name", "hostPath", "readOnly"});
        Volume v;
        v.name = read_dns_label(r.require("name"), r.path("name"));
        auto [it, fresh] = names.emplace(v.name, index_path(path, i));
        if (!fresh) fail(r.path("name"), shown(v.name) + " is already the name of " + it->second);
        if (auto* p = r.get("hostPath")) {
            v.kind = Volume::Kind::host;
            v.host_path = read_absolute_path(*p, r.path("hostPath"));
        }
        if (auto* ro = r.get("readOnly")) {
            v.read_only = read_bool(*ro, r.path("readOnly"));
            // A named volume starts empty: read-only everywhere, it could never hold anything.
            if (v.read_only && v.kind != Volume::Kind::host)
                fail(r.path("readOnly"),
                     "only a hostPath volume can be read-only (a mount can: volumeMounts[].readOnly)");
        }
        volumes.push_back(std::move(v));
    }
    return volumes;
}

RestartPolicy::Kind read_restart_kind(const json& value, const std::string& path) {
    std::string s = read_string(value, path);
    if (s == "never") return RestartPolicy::Kind::never;
    if (s == "on-failure") return RestartPolicy::Kind::on_failure;
    if (s == "always") return RestartPolicy::Kind::always;
    fail(path, shown(s) + " is not one of \"never\", \"on-failure\", \"always\"");
}

const char* restart_kind_name(RestartPolicy::Kind kind) {
    switch (kind) {
        case RestartPolicy::Kind::never: return "never";
        case RestartPolicy::Kind::on_failure: return "on-failure";
        case RestartPolicy::Kind::always: return "always";
    }
    return "never";
}

std::string seconds_text(double s) {
    std::ostringstream out;
    out << s << "s";
    return out.str();
}

RestartPolicy read_restart_policy(const json& value, const std::string& path) {
    RestartPolicy policy;
    if (value.is_string()) {
        policy.kind = read_restart_kind(value, path);
        return policy;
    }
    if (!value.is_object()) wrong_type(value, path, "a string (\"never\", \"on-failure\", \"always\") or an object");
    ObjectReader r(value, path, {"policy", "maxRetries", "backoff"});
    policy.kind = read_restart_kind(r.require("policy"), r.path("policy"));
    if (auto* v = r.get("maxRetries")) {
        if (policy.kind != RestartPolicy::Kind::on_failure)
            fail(r.path("maxRetries"), "applies to the \"on-failure\" policy only");
        policy.max_retries = static_cast<int>(read_int(*v, r.path("maxRetries"), 0, INT32_MAX));
    }
    if (auto* v = r.get("backoff")) {
        if (policy.kind == RestartPolicy::Kind::never)
            fail(r.path("backoff"), "does not apply to the \"never\" policy");
        ObjectReader b(*v, r.path("backoff"), {"initial", "max"});
        const json* initial = b.get("initial");
        const json* max = b.get("max");
        if (initial) {
            policy.backoff_initial = read_duration(*initial, b.path("initial"));
            if (!(policy.backoff_initial > 0)) fail(b.path("initial"), "must be more than 0");
        }
        if (max) policy.backoff_max = read_duration(*max, b.path("max"));
        if (policy.backoff_max < policy.backoff_initial) {
            if (max)
                fail(b.path("max"), seconds_text(policy.backoff_max) + " is below backoff.initial (" +
                                        seconds_text(policy.backoff_initial) + ")");
            fail(b.path("initial"), seconds_text(policy.backoff_initial) + " is above backoff.max (" +
                                        seconds_text(policy.backoff_max) + ", the default)");
        }
    }
    return policy;
}

std::vector<std::string> read_networks(const json& value, const std::string& path) {
    std::vector<std::string> networks = read_string_array(value, path);
    for (std::size_t i = 0; i < networks.size(); ++i) {
        const std::string& n = networks[i];
        std::string item_path = index_path(path, i);
        if (n == "none" || n == "host") {
            if (networks.size() > 1) fail(item_path, shown(n) + " must be the pod's only network");
        } else if (!is_dns_label(n)) {
            fail(item_path, shown(n) + " is not \"none\", \"host\" or a network name: " + shown(n) + " " +
                                dns_label_rule);
        }
        for (std::size_t j = 0; j < i; ++j)
            if (networks[j] == n) fail(item_path, shown(n) + " is already listed at " + index_path(path, j));
    }
    return networks;
}

std::vector<PortMapping> read_ports(const json& value, const std::string& path) {
    if (!value.is_array()) wrong_type(value, path, "an array of {hostPort, containerPort, protocol, hostIP}");
    std::vector<PortMapping> ports;
    for (std::size_t i = 0; i < value.size(); ++i) {
        ObjectReader r(value[i], index_path(path, i), {"hostPort", "containerPort", "protocol", "hostIP"});
        PortMapping p;
        p.host_port = static_cast<int>(read_int(r.require("hostPort"), r.path("hostPort"), 1, 65535));
        p.container_port = static_cast<int>(read_int(r.require("containerPort"), r.path("containerPort"), 1, 65535));
        if (auto* v = r.get("protocol")) {
            p.protocol = read_string(*v, r.path("protocol"));
            if (p.protocol != "tcp" && p.protocol != "udp") fail(r.path("protocol"), shown(p.protocol) + " is not tcp or udp");
        }
        if (auto* v = r.get("hostIP")) {
            p.host_ip = read_string(*v, r.path("hostIP"));
            unsigned char buf[16];
            if (!p.host_ip.empty() && ::inet_pton(AF_INET, p.host_ip.c_str(), buf) != 1 &&
                ::inet_pton(AF_INET6, p.host_ip.c_str(), buf) != 1)
                fail(r.path("hostIP"), shown(p.host_ip) + " is not an IP address");
        }
        for (std::size_t j = 0; j < ports.size(); ++j)
            if (ports[j].host_port == p.host_port && ports[j].protocol == p.protocol && ports[j].host_ip == p.host_ip)
                fail(r.path("hostPort"), std::to_string(p.host_port) + "/" + p.protocol + " is already mapped at " +
                                             index_path(path, j));
        ports.push_back(std::move(p));
    }
    return ports;
}

json read_isolator_config(const json* value, const std::string& path) {
    if (!value) return json::object();
    if (!value->is_object()) wrong_type(*value, path, "an object");
    return *value;
}

std::vector<IsolatorRequest> read_isolators(const json& value, const std::string& path) {
    std::vector<IsolatorRequest> isolators;
    if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
            ObjectReader r(value[i], index_path(path, i), {"name", "config"});
            IsolatorRequest req;
            req.name = read_non_empty_string(r.require("name"), r.path("name"));
            for (std::size_t j = 0; j < isolators.size(); ++j)
                if (isolators[j].name == req.name)
                    fail(r.path("name"), shown(req.name) + " is already listed at " + index_path(path, j));
            req.config = read_isolator_config(r.get("config"), r.path("config"));
            isolators.push_back(std::move(req));
        }
    } else if (value.is_object()) {
        // Applied in the order of the names; the list form chooses another order.
        for (const auto& [name, config] : value.items()) {
            std::string item_path = join_path(path, name);
            if (name.empty()) fail(item_path, "an isolator name must not be empty");
            isolators.push_back({name, read_isolator_config(config.is_null() ? nullptr : &config, item_path)});
        }
    } else {
        wrong_type(value, path, "an array of {name, config} or an object {name: config}");
    }
    return isolators;
}

}  // namespace

bool is_dns_label(const std::string& name) {
    if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

PodSpec detail::read_pod_spec(const json& value, const std::string& path, const SourceMap* source) {
    ObjectReader r(value, path,
                   {"name", "hostname", "containers", "volumes", "restartPolicy", "stopGracePeriod", "sharePid",
                    "networks", "isolators", "ports"});
    PodSpec pod;
    pod.name = read_dns_label(r.require("name"), r.path("name"));
    pod.hostname = pod.name;
    if (auto* v = r.get("hostname")) {
        pod.hostname = read_string(*v, r.path("hostname"));
        if (!is_hostname(pod.hostname))
            fail(r.path("hostname"), shown(pod.hostname) +
                                         " is not a hostname (DNS labels joined by '.', at most 64 characters)");
    }
    // Volumes first: the containers' mounts refer to them.
    if (auto* v = r.get("volumes")) pod.volumes = read_volumes(*v, r.path("volumes"));

    const json& containers = r.require("containers");
    std::string containers_path = r.path("containers");
    if (!containers.is_array()) wrong_type(containers, containers_path, "an array");
    if (containers.empty()) fail(containers_path, "must list at least one container");
    for (std::size_t i = 0; i < containers.size(); ++i) {
        std::string item_path = index_path(containers_path, i);
        ContainerSpec c = read_container(containers[i], item_path, pod.volumes, source);
        for (std::size_t j = 0; j < pod.containers.size(); ++j)
            if (pod.containers[j].name == c.name)
                fail(join_path(item_path, "name"),
                     shown(c.name) + " is already the name of " + index_path("containers", j));
        pod.containers.push_back(std::move(c));
    }

    if (auto* v = r.get("restartPolicy")) pod.restart_policy = read_restart_policy(*v, r.path("restartPolicy"));
    if (auto* v = r.get("stopGracePeriod")) pod.stop_grace_period = read_duration(*v, r.path("stopGracePeriod"));
    if (auto* v = r.get("sharePid")) pod.share_pid = read_bool(*v, r.path("sharePid"));
    if (auto* v = r.get("networks")) pod.networks = read_networks(*v, r.path("networks"));
    if (auto* v = r.get("isolators")) pod.isolators = read_isolators(*v, r.path("isolators"));
    if (auto* v = r.get("ports")) {
        pod.ports = read_ports(*v, r.path("ports"));
        if (!pod.ports.empty() && (pod.host_network() || (pod.networks.size() == 1 && pod.networks[0] == "none")))
            fail(r.path("ports"), "needs a network: the pod's network is " + shown(pod.networks[0]));
    }
    return pod;
}

PodSpec parse_pod_spec(const json& value) {
    try {
        return read_pod_spec(value, "", nullptr);
    } catch (const FieldError& e) {
        throw Error(Errc::invalid_argument, e.what());
    }
}

PodSpec parse_pod_spec(const YAML::Node& value) {
    SourceMap source;
    try {
        return read_pod_spec(yaml_to_json(value, "", source), "", &source);
    } catch (const FieldError& e) {
        int line = e.line() ? e.line() : source.line_of(e.path());
        throw Error(Errc::invalid_argument,
                    line ? std::string(e.what()) + " (line " + std::to_string(line) + ")" : e.what());
    }
}

namespace {

json resources_json(const ContainerResources& r) {
    json j = json::object();
    if (r.cpus) j["cpus"] = *r.cpus;
    if (r.memory) j["memory"] = *r.memory;
    if (r.pids) j["pids"] = *r.pids;
    return j;
}

json container_json(const ContainerSpec& c) {
    json j = {{"name", c.name},   {"image", c.image}, {"command", c.command},
              {"args", c.args},   {"env", c.env},     {"tty", c.tty},
              {"stdin", c.stdin}, {"resources", resources_json(c.resources)}};
    if (!c.working_dir.empty()) j["workingDir"] = c.working_dir;
    if (!c.user.empty()) j["user"] = c.user;
    j["volumeMounts"] = json::array();
    for (const auto& m : c.volume_mounts)
        j["volumeMounts"].push_back({{"name", m.name}, {"path", m.path}, {"readOnly", m.read_only}});
    return j;
}

json restart_policy_json(const RestartPolicy& p) {
    json j = {{"policy", restart_kind_name(p.kind)}};
    if (p.kind == RestartPolicy::Kind::on_failure) j["maxRetries"] = p.max_retries;
    if (p.kind != RestartPolicy::Kind::never)
        j["backoff"] = {{"initial", p.backoff_initial}, {"max", p.backoff_max}};
    return j;
}

}  // namespace

json to_json(const PodSpec& spec) {
    json j = {{"name", spec.name}, {"hostname", spec.hostname}};
    j["containers"] = json::array();
    for (const auto& c : spec.containers) j["containers"].push_back(container_json(c));
    j["volumes"] = json::array();
    for (const auto& v : spec.volumes) {
        json vj = {{"name", v.name}};
        if (v.kind == Volume::Kind::host) {
            vj["hostPath"] = v.host_path;
            vj["readOnly"] = v.read_only;
        }
        j["volumes"].push_back(std::move(vj));
    }
    j["restartPolicy"] = restart_policy_json(spec.restart_policy);
    j["stopGracePeriod"] = spec.stop_grace_period;
    j["sharePid"] = spec.share_pid;
    j["networks"] = spec.networks;
    j["isolators"] = json::array();
    for (const auto& i : spec.isolators) j["isolators"].push_back({{"name", i.name}, {"config", i.config}});
    j["ports"] = json::array();
    for (const auto& p : spec.ports) {
        json pj = {{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}};
        if (!p.host_ip.empty()) pj["hostIP"] = p.host_ip;
        j["ports"].push_back(std::move(pj));
    }
    return j;
}

}  // namespace kiln::daemon
