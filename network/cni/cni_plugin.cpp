// The cni network plugin: a pod's attachment to a network is a CNI ADD through the network's
// conflist, run inside this plugin's container by kiln-cni-chain (HostContext::exec, one process
// per operation: it runs each binary of the chain, found in binDirs and killed at the timeout).
// Results are cached under the plugin's state dir for DEL, CHECK and GC, with the conflist they
// were made with, so that a changed kiln.yaml does not strand an attachment.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include <kiln/plugin.hpp>

#include "network/cni/cni.hpp"

namespace kiln::cni {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Written whole or not at all.
void write_file(const std::string& path, const std::string& data) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << data;
        out.flush();
        if (!out) throw std::runtime_error("writing " + tmp);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("renaming " + tmp);
}

class CniPlugin : public sdk::NetworkPlugin {
public:
    explicit CniPlugin(sdk::HostContext& host) : host_(host) {}

    void start() override {
        json config = json::parse(host_.config_json());
        for (const auto& [k, v] : config.items())
            if (k != "binDirs" && k != "confDir" && k != "timeout" && k != "execHelper")
                throw std::runtime_error("config." + k + ": unknown field (known: binDirs, confDir, timeout, execHelper)");
        if (config.contains("binDirs")) {
            if (!config["binDirs"].is_array() || config["binDirs"].empty())
                throw std::runtime_error("config.binDirs: must list at least one directory");
            for (const auto& d : config["binDirs"])
                if (!d.is_string() || d.get<std::string>().empty() || d.get<std::string>()[0] != '/' ||
                    d.get<std::string>().find(':') != std::string::npos)
                    throw std::runtime_error("config.binDirs: " + d.dump() + " is not an absolute path without ':'");
            bin_dir_list_ = config["binDirs"];
        }
        conf_dir_ = config.value("confDir", "");
        helper_ = config.value("execHelper", "/usr/libexec/kiln/kiln-cni-chain");
        if (config.contains("timeout")) {
            if (!config["timeout"].is_number() || config["timeout"].get<double>() <= 0)
                throw std::runtime_error("config.timeout: must be a number of seconds above 0");
            timeout_ = std::max(1, static_cast<int>(config["timeout"].get<double>() + 0.999));
        }
        cache_dir_ = host_.state_dir() + "/results";
        std::filesystem::create_directories(cache_dir_);
        std::filesystem::create_directories(host_.state_dir() + "/cni");
        std::filesystem::create_directories(host_.state_dir() + "/bin");
        // The container answers, and has the plugins: VERSION of the one every chain can use.
        versions("loopback");
    }

    std::string attach(const std::string& request_text) override {
        json request = json::parse(request_text);
        json conflist = conflist_of(request);
        check_versions(conflist);
        Attachment a = attachment_of(request);
        json result = chain("ADD", conflist, a);
        try {
            write_file(cache_path(request), json{{"kind", "kiln-cni-cache/1"},
                                                 {"containerId", a.container_id},
                                                 {"ifname", a.ifname},
                                                 {"netns", a.netns},
                                                 {"network", request.value("network", "")},
                                                 {"portMappings", a.port_mappings},
                                                 {"conflist", conflist},
                                                 {"result", result}}
                                                .dump());
        } catch (const std::exception&) {
            try {
                chain("DEL", conflist, a, &result);
            } catch (const std::exception&) {
            }
            throw;
        }
        return to_status(result).dump();
    }

    void detach(const std::string& request_text) override {
        json request = json::parse(request_text);
        std::string path = cache_path(request);
        Attachment a = attachment_of(request);
        json cached = json::parse(slurp(path), nullptr, false);
        if (cached.is_object() && cached.contains("conflist")) {
            if (cached.contains("portMappings")) a.port_mappings = cached["portMappings"];
            chain("DEL", cached["conflist"], a, cached.contains("result") ? &cached["result"] : nullptr);
        } else {
            // Nothing cached (an attach that died half-way): DEL with what the network is now.
            chain("DEL", conflist_of(request), a);
        }
        ::unlink(path.c_str());
    }

    void check(const std::string& request_text) override {
        json request = json::parse(request_text);
        json cached = json::parse(slurp(cache_path(request)), nullptr, false);
        if (!cached.is_object() || !cached.contains("conflist"))
            throw std::runtime_error("no cached result for pod " + request.value("pod", "") + " on " + request.value("network", ""));
        Attachment a = attachment_of(request);
        a.port_mappings = cached.value("portMappings", json::array());
        chain("CHECK", cached["conflist"], a, &cached["result"]);
    }

    void gc(const std::string& attachments_text) override {
        json valid = json::parse(attachments_text).value("attachments", json::array());
        std::set<std::string> keep;
        for (const auto& a : valid)
            keep.insert(cache_name(a.value("network", ""), a.value("pod", ""), a.value("ifname", "")));
        std::map<std::string, json> conflists;  // by CNI name, for GC proper
        std::map<std::string, json> valid_by_network;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(cache_dir_, ec)) {
            std::string file = e.path().filename().string();
            if (!file.ends_with(".json")) continue;
            json cached = json::parse(slurp(e.path().string()), nullptr, false);
            if (!cached.is_object() || !cached.contains("conflist")) continue;
            std::string name = cached["conflist"].value("name", "");
            conflists[name] = cached["conflist"];
            if (!valid_by_network.count(name)) valid_by_network[name] = json::array();
            if (keep.count(file)) {
                valid_by_network[name].push_back({{"containerID", cached.value("containerId", "")},
                                                  {"ifname", cached.value("ifname", "")}});
                continue;
            }
            // An attachment kilnd no longer holds: deleted as its pod's delete would have.
            Attachment a{cached.value("containerId", ""), cached.value("netns", ""), cached.value("ifname", ""),
                         cached.value("portMappings", json::array())};
            try {
                chain("DEL", cached["conflist"], a, &cached["result"]);
                ::unlink(e.path().c_str());
                host_.log(sdk::LogLevel::info, "gc: released " + a.container_id + " on " + name);
            } catch (const std::exception& x) {
                host_.log(sdk::LogLevel::warn, "gc: DEL " + a.container_id + " on " + name + ": " + x.what());
            }
        }
        for (const auto& [name, conflist] : conflists) {
            try {
                if (compare_versions(conflist.value("cniVersion", "0.0.0"), "1.1.0") >= 0 && !conflist.value("disableGC", false))
                    chain("GC", conflist, Attachment{}, nullptr, &valid_by_network[name]);
            } catch (const std::exception& x) {
                host_.log(sdk::LogLevel::warn, "gc: " + name + ": " + x.what());
            }
        }
    }

private:
    static std::string cache_name(const std::string& network, const std::string& pod, const std::string& ifname) {
        // Network and pod names are DNS labels: no '_' in either.
        return network + "_" + pod + "_" + ifname + ".json";
    }
    std::string cache_path(const json& request) const {
        return cache_dir_ + "/" + cache_name(request.value("network", ""), request.value("pod", ""), request.value("ifname", ""));
    }

    json conflist_of(const json& request) const {
        std::string network = request.value("network", "");
        const json& config = request.contains("config") ? request["config"] : json();
        if (!config.is_null()) return read_conflist(config, network);
        std::vector<std::string> skipped;
        if (!conf_dir_.empty())
            if (auto found = find_conflist(conf_dir_, network, &skipped)) return *found;
        std::string why = "no network \"" + network + "\" in kiln.yaml's networks or in " +
                          (conf_dir_.empty() ? std::string("a conf dir (confDir is not set)") : conf_dir_);
        for (const auto& s : skipped) why += "; skipped " + s;
        throw std::runtime_error(why);
    }

    static Attachment attachment_of(const json& request) {
        Attachment a;
        a.container_id = request.value("pod", "");
        a.netns = request.value("netns", "");
        a.ifname = request.value("ifname", "eth0");
        if (request.contains("portMappings") && request["portMappings"].is_array()) a.port_mappings = request["portMappings"];
        return a;
    }

    // One operation through kiln-cni-chain in the container: its answer, or the CNI error it
    // printed, thrown.
    json chain(const std::string& command, const json& conflist, const Attachment& a, const json* prev = nullptr,
               const json* valid = nullptr, const std::string& type = {}) {
        json req = {{"command", command},
                    {"binDirs", bin_dir_list_},
                    {"timeout", timeout_},
                    {"attachment",
                     {{"containerId", a.container_id}, {"netns", a.netns}, {"ifname", a.ifname}, {"portMappings", a.port_mappings}}}};
        if (!conflist.is_null()) req["conflist"] = conflist;
        if (prev) req["prevResult"] = *prev;
        if (valid) req["validAttachments"] = *valid;
        if (!type.empty()) req["type"] = type;
        auto r = host_.exec({helper_}, req.dump());
        json out = json::parse(r.out, nullptr, false);
        if (r.exit_code == 0 && out.is_object()) return out;
        if (out.is_object() && out.contains("code"))
            throw Error(out["code"].is_number_integer() ? out["code"].get<int>() : 999, out.value("msg", ""), out.value("details", ""));
        std::string err = r.err.empty() ? r.out : r.err;
        while (!err.empty() && err.back() == '\n') err.pop_back();
        throw Error(999, helper_ + " " + command + " exited with " + std::to_string(r.exit_code) + ": " + err.substr(0, 500));
    }

    // A plugin's supportedVersions, asked once.
    std::vector<std::string> versions(const std::string& type) {
        {
            std::lock_guard lock(mu_);
            if (auto it = versions_.find(type); it != versions_.end()) return it->second;
        }
        json answer = chain("VERSION", json(), Attachment{}, nullptr, nullptr, type);
        std::vector<std::string> supported;
        if (answer.contains("supportedVersions") && answer["supportedVersions"].is_array())
            for (const auto& v : answer["supportedVersions"])
                if (v.is_string()) supported.push_back(v);
        std::lock_guard lock(mu_);
        versions_[type] = supported;
        return supported;
    }

    void check_versions(const json& conflist) {
        std::string version = conflist["cniVersion"];
        for (const auto& p : conflist["plugins"]) {
            std::string type = p["type"];
            auto supported = versions(type);
            if (!supported.empty() && std::find(supported.begin(), supported.end(), version) == supported.end()) {
                std::string list;
                for (const auto& v : supported) list += (list.empty() ? "" : ", ") + v;
                throw Error(1, type + " does not support CNI version " + version + " (it supports " + list + ")");
            }
        }
    }

    sdk::HostContext& host_;
    std::string conf_dir_, helper_, cache_dir_;
    json bin_dir_list_ = json::array({"/opt/cni/bin"});
    int timeout_ = 30;
    std::mutex mu_;
    std::map<std::string, std::vector<std::string>> versions_;
};

}  // namespace
}  // namespace kiln::cni

KILN_PLUGIN(kiln::cni::CniPlugin)
