// kiln.yaml: read through yaml_to_json() and the same field readers as the pod schema, so a bad
// pod in the appliance file reads exactly like a bad REST body, plus the file and line.
#include "core/daemon/config.hpp"

#include "core/image/registry.hpp"

#include <yaml-cpp/yaml.h>

#include <limits>
#include <map>

#include "core/daemon/field_reader.hpp"
#include "core/daemon/yaml_tree.hpp"
#include "core/sys/file.hpp"

extern "C" const char kiln_default_config_start[], kiln_default_config_end[];

namespace kiln::daemon {

using json = nlohmann::json;
using namespace detail;

namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// A cgroup below the root of each hierarchy: "kiln", "system.slice/kiln". Never a way out of it.
void check_cgroup_parent(const std::string& value, const std::string& path) {
    auto bad = [&] { fail(path, shown(value) + " is not a relative cgroup path like \"kiln\" or \"system.slice/kiln\""); };
    if (value.empty() || value.front() == '/' || value.back() == '/') bad();
    std::size_t start = 0;
    for (;;) {
        std::size_t slash = value.find('/', start);
        std::string part = value.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos) bad();
        if (slash == std::string::npos) return;
        start = slash + 1;
    }
}

// Like chmod: the digits are octal whether written "0660", 0660 or 660.
unsigned read_socket_mode(const json& value, const std::string& path, const SourceMap& source) {
    std::string digits;
    if (value.is_string()) {
        digits = value.get<std::string>();
    } else if (value.is_number_integer()) {
        const std::string* written = source.text_of(path);
        digits = written ? *written : value.dump();
    } else {
        wrong_type(value, path, "an octal mode like \"0660\"");
    }
    if (digits.starts_with("0o")) digits.erase(0, 2);
    bool octal = !digits.empty() && digits.size() <= 5;
    unsigned mode = 0;
    for (char c : digits) {
        octal = octal && c >= '0' && c <= '7';
        mode = mode * 8 + static_cast<unsigned>(c - '0');
    }
    if (!octal || mode > 07777) fail(path, "must be an octal mode like \"0660\"");
    return mode;
}

std::string read_one_of(const json& value, const std::string& path, std::initializer_list<const char*> allowed) {
    std::string s = read_string(value, path);
    std::string list;
    for (const char* a : allowed) {
        if (s == a) return s;
        list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    }
    fail(path, shown(s) + " is not one of " + list);
}

double read_timeout(const json& value, const std::string& path) {
    double seconds = read_duration(value, path);
    if (!(seconds > 0)) fail(path, "must be more than 0");
    return seconds;
}

void read_api(const json& value, const std::string& path, const SourceMap& source, ApiConfig& api) {
    ObjectReader r(value, path,
                   {"socket", "socketMode", "socketGroup", "maxBodyBytes", "requestTimeout", "idleTimeout"});
    if (auto* v = r.get("socket")) {
        // "" keeps the default, <runDir>/kiln.sock, as leaving the key out does.
        api.socket = v->is_string() && v->get_ref<const std::string&>().empty()
                         ? std::string()
                         : read_absolute_path(*v, r.path("socket"));
    }
    if (auto* v = r.get("socketMode")) api.socket_mode = read_socket_mode(*v, r.path("socketMode"), source);
    if (auto* v = r.get("socketGroup"))
        api.socket_group = v->is_number_integer()
                               ? std::to_string(read_int(*v, r.path("socketGroup"), 0, UINT32_MAX - 1))
                               : read_string(*v, r.path("socketGroup"));
    if (auto* v = r.get("maxBodyBytes")) {
        api.max_body_bytes = static_cast<std::uint64_t>(read_size(*v, r.path("maxBodyBytes")));
        if (api.max_body_bytes == 0) fail(r.path("maxBodyBytes"), "must be more than 0");
    }
    if (auto* v = r.get("requestTimeout")) api.request_timeout = read_timeout(*v, r.path("requestTimeout"));
    if (auto* v = r.get("idleTimeout")) api.idle_timeout = read_timeout(*v, r.path("idleTimeout"));
}

// `networks`: a list of {name, plugin, config}, or a map name -> {plugin, config}.
std::vector<NetworkDef> read_networks(const json& value, const std::string& path) {
    std::vector<NetworkDef> out;
    auto one = [&](const json& item, const std::string& item_path, const std::string* key) {
        NetworkDef n;
        ObjectReader r(item, item_path, {"name", "plugin", "config"});
        if (key) {
            n.name = *key;
            if (r.get("name")) fail(r.path("name"), "is given by the key (" + shown(*key) + ")");
        } else {
            n.name = read_non_empty_string(r.require("name"), r.path("name"));
        }
        std::string name_path = key ? item_path : r.path("name");
        if (!is_dns_label(n.name) || n.name == "none" || n.name == "host")
            fail(name_path, shown(n.name) + " is not a network name (a DNS label other than none and host)");
        for (const auto& o : out)
            if (o.name == n.name) fail(name_path, shown(n.name) + " is listed twice");
        n.plugin = read_non_empty_string(r.require("plugin"), r.path("plugin"));
        if (auto* v = r.get("config")) {
            if (!v->is_object()) wrong_type(*v, r.path("config"), "a map (the plugin's description of the network)");
            n.config = *v;
        }
        out.push_back(std::move(n));
    };
    if (value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) one(value[i], index_path(path, i), nullptr);
    } else if (value.is_object()) {
        for (const auto& [k, v] : value.items()) one(v, join_path(path, k), &k);
    } else {
        wrong_type(value, path, "a list of {name, plugin, config} or a map of name to {plugin, config}");
    }
    return out;
}

void read_config(const json& value, const SourceMap& source, Config& c) {
    ObjectReader r(value, "",
                   {"stateDir", "runDir", "cgroupParent", "stopPodsOnExit", "api", "log", "containerLogs", "images",
                    "registries", "authFile", "pods", "networks", "defaultNetworks", "plugins", "pluginDirs", "requiredPlugins",
                    "disabledPlugins", "statsInterval"});
    if (auto* v = r.get("stateDir")) c.state_dir = read_absolute_path(*v, r.path("stateDir"));
    if (auto* v = r.get("runDir")) c.run_dir = read_absolute_path(*v, r.path("runDir"));
    if (auto* v = r.get("cgroupParent")) {
        c.cgroup_parent = read_string(*v, r.path("cgroupParent"));
        check_cgroup_parent(c.cgroup_parent, r.path("cgroupParent"));
    }
    if (auto* v = r.get("stopPodsOnExit")) c.stop_pods_on_exit = read_bool(*v, r.path("stopPodsOnExit"));
    if (auto* v = r.get("api")) read_api(*v, r.path("api"), source, c.api);
    if (auto* v = r.get("log")) {
        ObjectReader l(*v, r.path("log"), {"level", "format"});
        if (auto* x = l.get("level"))
            c.log.level = read_one_of(*x, l.path("level"), {"trace", "debug", "info", "warn", "error"});
        if (auto* x = l.get("format")) c.log.format = read_one_of(*x, l.path("format"), {"text", "json"});
    }
    if (auto* v = r.get("containerLogs")) {
        ObjectReader l(*v, r.path("containerLogs"), {"maxSize", "maxFiles"});
        if (auto* x = l.get("maxSize")) {
            c.container_logs.max_size = static_cast<std::uint64_t>(read_size(*x, l.path("maxSize")));
            if (c.container_logs.max_size == 0) fail(l.path("maxSize"), "must be more than 0");
        }
        if (auto* x = l.get("maxFiles"))
            c.container_logs.max_files = static_cast<int>(read_int(*x, l.path("maxFiles"), 1, INT32_MAX));
    }
    if (auto* v = r.get("images")) {
        if (!v->is_array()) wrong_type(*v, r.path("images"), "an array of {path, tag}");
        for (std::size_t i = 0; i < v->size(); ++i) {
            std::string item = index_path(r.path("images"), i);
            ObjectReader ir((*v)[i], item, {"path", "tag"});
            ImageSource src;
            if (auto* x = ir.get("path")) src.path = read_absolute_path(*x, ir.path("path"));
            else fail(ir.path("path"), "is required");
            if (auto* x = ir.get("tag")) src.tag = read_non_empty_string(*x, ir.path("tag"));
            else fail(ir.path("tag"), "is required");
            c.images.push_back(std::move(src));
        }
    }
    if (auto* v = r.get("registries")) {
        if (!v->is_object()) wrong_type(*v, r.path("registries"), "a map of registry name to its settings");
        for (const auto& [name, x] : v->items()) {
            std::string item = join_path(r.path("registries"), name);
            try {
                image::parse_pull_reference(name + "/x");
            } catch (const Error&) {
                fail(item, shown(name) + " is not a registry name (host or host:port)");
            }
            if (name.find_first_of(".:") == std::string::npos && name != "localhost")
                fail(item, shown(name) + " is not a registry name (host or host:port)");
            ObjectReader rr(x, item, {"insecure", "caFile", "username", "password"});
            RegistrySettings rs;
            if (auto* y = rr.get("insecure")) rs.insecure = read_bool(*y, rr.path("insecure"));
            if (auto* y = rr.get("caFile")) rs.ca_file = read_absolute_path(*y, rr.path("caFile"));
            if (auto* y = rr.get("username")) rs.username = read_string(*y, rr.path("username"));
            if (auto* y = rr.get("password")) rs.password = read_string(*y, rr.path("password"));
            if (rs.username.empty() != rs.password.empty())
                fail(item, "username and password go together");
            c.registries[name] = std::move(rs);
        }
    }
    if (auto* v = r.get("authFile")) {
        std::string f = read_string(*v, r.path("authFile"));
        c.auth_file = f.empty() ? f : read_absolute_path(*v, r.path("authFile"));
    }
    if (auto* v = r.get("pods")) {
        if (!v->is_array()) wrong_type(*v, r.path("pods"), "an array of pods");
        std::map<std::string, std::string> names;
        for (std::size_t i = 0; i < v->size(); ++i) {
            std::string pod_path = index_path(r.path("pods"), i);
            PodSpec pod = read_pod_spec((*v)[i], pod_path, &source);
            auto [it, fresh] = names.emplace(pod.name, pod_path);
            if (!fresh) fail(join_path(pod_path, "name"), shown(pod.name) + " is already the name of " + it->second);
            c.pods.push_back(std::move(pod));
        }
    }
    if (auto* v = r.get("networks"); v && !v->is_null()) c.networks = read_networks(*v, r.path("networks"));
    if (auto* v = r.get("defaultNetworks")) {
        std::string path = r.path("defaultNetworks");
        c.default_networks = read_string_array(*v, path);
        for (std::size_t i = 0; i < c.default_networks.size(); ++i)
            if (!c.network(c.default_networks[i]))
                fail(index_path(path, i), shown(c.default_networks[i]) + " is not a network of `networks`");
    }
    if (auto* v = r.get("plugins")) {
        if (!v->is_object()) wrong_type(*v, r.path("plugins"), "a map of plugin id to its config");
        for (const auto& [id, x] : v->items())
            if (!x.is_object() && !x.is_null()) wrong_type(x, join_path(r.path("plugins"), id), "a map (the plugin's config)");
        c.plugins = *v;
    }
    if (auto* v = r.get("pluginDirs")) {
        if (!v->is_array()) wrong_type(*v, r.path("pluginDirs"), "a list of absolute paths");
        c.plugin_dirs.clear();
        for (std::size_t i = 0; i < v->size(); ++i)
            c.plugin_dirs.push_back(read_non_empty_string((*v)[i], index_path(r.path("pluginDirs"), i)));
    }
    if (auto* v = r.get("requiredPlugins")) c.required_plugins = read_string_array(*v, r.path("requiredPlugins"));
    if (auto* v = r.get("disabledPlugins")) c.disabled_plugins = read_string_array(*v, r.path("disabledPlugins"));
    if (auto* v = r.get("statsInterval")) {
        c.stats_interval = read_duration(*v, r.path("statsInterval"));
        if (c.stats_interval < 0.1) fail(r.path("statsInterval"), "must be at least 100ms");
    }
    for (std::size_t i = 0; i < c.required_plugins.size(); ++i)
        if (std::count(c.disabled_plugins.begin(), c.disabled_plugins.end(), c.required_plugins[i]))
            fail(index_path(r.path("requiredPlugins"), i), shown(c.required_plugins[i]) + " is also in disabledPlugins");
}

}  // namespace

std::vector<NetworkDef> default_network_defs() {
    json conflist = {
        {"cniVersion", "1.0.0"},
        {"plugins",
         {{{"type", "bridge"},
           {"bridge", "kiln0"},
           {"isGateway", true},
           {"ipMasq", true},
           {"hairpinMode", true},
           {"ipam", {{"type", "host-local"}, {"ranges", {{{{"subnet", "10.88.0.0/16"}}}}}, {"routes", {{{"dst", "0.0.0.0/0"}}}}}}},
          {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}}}}};
    return {NetworkDef{"default", "cni", conflist}};
}

Config parse_config(const std::string& text, const std::string& source) {
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) {
        invalid(located(source, e.mark.line < 0 ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg));
    }
    Config config;
    config.source = source;
    if (documents.size() > 1)
        invalid(located(source, yaml_line(documents[1]), "a second YAML document; the config is one document"));
    if (documents.empty() || documents[0].IsNull()) return config;
    SourceMap lines;
    try {
        read_config(yaml_to_json(documents[0], "", lines), lines, config);
    } catch (const FieldError& e) {
        invalid(located(source, e.line() ? e.line() : lines.line_of(e.path()), e.what()));
    }
    return config;
}

Config load_config(const std::string& path) {
    if (!path.empty()) return parse_config(read_file(path), path);
    if (auto text = read_file_if_exists(default_config_path)) return parse_config(*text, default_config_path);
    return parse_config(std::string(embedded_default_config()), "<embedded>");
}

std::string_view embedded_default_config() {
    return {kiln_default_config_start, static_cast<std::size_t>(kiln_default_config_end - kiln_default_config_start)};
}

}  // namespace kiln::daemon
