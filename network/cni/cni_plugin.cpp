// The cni network plugin: a pod's attachment to a network is a CNI ADD through the network's
// conflist, each plugin of the chain run inside this plugin's container (HostContext::exec, by
// the image's cni-exec helper, which finds the binary in CNI_PATH and kills it at the timeout).
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
            for (const auto& d : config["binDirs"]) {
                if (!d.is_string() || d.get<std::string>().empty() || d.get<std::string>()[0] != '/' ||
                    d.get<std::string>().find(':') != std::string::npos)
                    throw std::runtime_error("config.binDirs: " + d.dump() + " is not an absolute path without ':'");
                bin_dirs_ += (bin_dirs_.empty() ? "" : ":") + d.get<std::string>();
            }
        } else {
            bin_dirs_ = "/opt/cni/bin";
        }
        conf_dir_ = config.value("confDir", "");
        helper_ = config.value("execHelper", "/usr/libexec/kiln/cni-exec");
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
        json result = add(conflist, a, runner(a));
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
                del(conflist, a, &result, runner(a));
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
            del(cached["conflist"], a, cached.contains("result") ? &cached["result"] : nullptr, runner(a));
        } else {
            // Nothing cached (an attach that died half-way): DEL with what the network is now.
            del(conflist_of(request), a, nullptr, runner(a));
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
        cni::check(cached["conflist"], a, cached["result"], runner(a));
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
                del(cached["conflist"], a, &cached["result"], runner(a));
                ::unlink(e.path().c_str());
                host_.log(sdk::LogLevel::info, "gc: released " + a.container_id + " on " + name);
            } catch (const std::exception& x) {
                host_.log(sdk::LogLevel::warn, "gc: DEL " + a.container_id + " on " + name + ": " + x.what());
            }
        }
        for (const auto& [name, conflist] : conflists) {
            try {
                cni::gc(conflist, valid_by_network[name], runner(Attachment{}));
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

    Runner runner(const Attachment& a) {
        return [this, a](const std::string& command, const std::string& type, const std::string& input) {
            std::vector<std::string> argv = {"/bin/env",
                                             "CNI_COMMAND=" + command,
                                             "CNI_CONTAINERID=" + a.container_id,
                                             "CNI_NETNS=" + a.netns,
                                             "CNI_IFNAME=" + a.ifname,
                                             "CNI_ARGS=",
                                             "CNI_PATH=" + bin_dirs_,
                                             "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                             helper_,
                                             std::to_string(timeout_),
                                             type};
            if (command == "VERSION" || command == "GC") argv.erase(argv.begin() + 2, argv.begin() + 6);
            auto r = host_.exec(argv, input);
            return RunResult{r.exit_code, r.out, r.err};
        };
    }

    // A plugin's supportedVersions, asked once.
    std::vector<std::string> versions(const std::string& type) {
        {
            std::lock_guard lock(mu_);
            if (auto it = versions_.find(type); it != versions_.end()) return it->second;
        }
        json answer = read_answer(type, "VERSION", runner(Attachment{})("VERSION", type, R"({"cniVersion":"1.0.0"})"));
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
    std::string bin_dirs_, conf_dir_, helper_, cache_dir_;
    int timeout_ = 30;
    std::mutex mu_;
    std::map<std::string, std::vector<std::string>> versions_;
};

}  // namespace
}  // namespace kiln::cni

KILN_PLUGIN(kiln::cni::CniPlugin)
