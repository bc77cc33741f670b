#include "network/cni/cni.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln::cni {

std::string Error::text(int code, const std::string& msg, const std::string& details) {
    std::string t = "CNI error " + std::to_string(code) + ": " + msg;
    if (!details.empty()) t += " (" + details + ")";
    return t;
}

namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why) { throw std::runtime_error(field + ": " + why); }

bool valid_name(const std::string& n) {
    if (n.empty() || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
    return std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; });
}

bool valid_version(const std::string& v) {
    int dots = 0;
    if (v.empty() || v.front() == '.' || v.back() == '.') return false;
    for (char c : v) {
        if (c == '.') ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return dots == 2;
}

std::string version_of(const json& conflist) { return conflist.value("cniVersion", "0.0.0"); }

}  // namespace

int compare_versions(const std::string& a, const std::string& b) {
    std::istringstream x(a), y(b);
    for (int i = 0; i < 3; ++i) {
        long p = 0, q = 0;
        char dot;
        x >> p;
        y >> q;
        if (p != q) return p < q ? -1 : 1;
        x >> dot;
        y >> dot;
    }
    return 0;
}

json read_conflist(json config, const std::string& network) {
    if (!config.is_object()) bad("config", "must be a map (a CNI conflist)");
    if (!config.contains("plugins")) {
        // A single-plugin .conf.
        if (!config.contains("type")) bad("config", "has neither plugins (a conflist) nor type (a conf)");
        json list = {{"cniVersion", config.value("cniVersion", "")}, {"name", config.value("name", network)}};
        config.erase("name");
        list["plugins"] = json::array({config});
        config = list;
    }
    if (!config.contains("name")) config["name"] = network;
    if (!config["name"].is_string() || !valid_name(config["name"]))
        bad("config.name", config["name"].dump() + " is not a CNI network name (letters, digits, _ . -)");
    if (!config.contains("cniVersion") || !config["cniVersion"].is_string() || !valid_version(config["cniVersion"]))
        bad("config.cniVersion", "must be a version string such as \"1.0.0\"");
    const json& plugins = config["plugins"];
    if (!plugins.is_array() || plugins.empty()) bad("config.plugins", "must list at least one plugin");
    for (std::size_t i = 0; i < plugins.size(); ++i) {
        std::string where = "config.plugins[" + std::to_string(i) + "]";
        if (!plugins[i].is_object()) bad(where, "must be a map");
        if (!plugins[i].contains("type") || !plugins[i]["type"].is_string() || plugins[i]["type"].get<std::string>().empty())
            bad(where + ".type", "is required (the CNI plugin's binary name)");
        std::string type = plugins[i]["type"];
        if (type.find('/') != std::string::npos || type == "." || type == "..")
            bad(where + ".type", "\"" + type + "\" is not a binary name");
    }
    for (const char* flag : {"disableCheck", "disableGC"})
        if (config.contains(flag) && !config[flag].is_boolean()) bad(std::string("config.") + flag, "must be true or false");
    return config;
}

std::optional<json> find_conflist(const std::string& dir, const std::string& name, std::vector<std::string>* skipped) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        auto ext = e.path().extension().string();
        if (e.is_regular_file(ec) && (ext == ".conflist" || ext == ".conf" || ext == ".json")) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f);
        std::string text((std::istreambuf_iterator<char>(in)), {});
        json j = json::parse(text, nullptr, false);
        try {
            if (j.is_discarded()) throw std::runtime_error("not JSON");
            std::string file_name = j.value("name", "");
            if (file_name != name) continue;
            return read_conflist(j, name);
        } catch (const std::exception& e) {
            if (skipped) skipped->push_back(f.string() + ": " + e.what());
        }
    }
    return std::nullopt;
}

json plugin_config(const json& conflist, std::size_t index, const Attachment& a, const json* prev_result) {
    json conf = conflist["plugins"][index];
    conf["name"] = conflist["name"];
    conf["cniVersion"] = conflist["cniVersion"];
    json runtime = json::object();
    if (conf.contains("capabilities") && conf["capabilities"].is_object()) {
        const json& caps = conf["capabilities"];
        if (caps.value("portMappings", false) && !a.port_mappings.empty()) runtime["portMappings"] = a.port_mappings;
    }
    conf.erase("capabilities");
    if (!runtime.empty()) conf["runtimeConfig"] = runtime;
    if (prev_result) conf["prevResult"] = *prev_result;
    return conf;
}

json read_answer(const std::string& type, const std::string& command, const RunResult& r) {
    json out = json::parse(r.out, nullptr, false);
    if (r.exit_code == 0) {
        if (command != "ADD" || out.is_object()) return out.is_object() ? out : json::object();
        throw Error(999, type + ": " + command + " printed no result: " + r.out.substr(0, 200));
    }
    if (out.is_object() && out.contains("code")) {
        int code = out["code"].is_number_integer() ? out["code"].get<int>() : 999;
        std::string msg = out.value("msg", "");
        throw Error(code, type + ": " + msg, out.value("details", ""));
    }
    std::string err = r.err.empty() ? r.out : r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    std::string how = r.exit_code == 137 ? "was killed (timeout)" : "exited with " + std::to_string(r.exit_code);
    throw Error(999, type + ": " + command + " " + how + (err.empty() ? "" : ": " + err.substr(0, 500)));
}

json add(const json& conflist, const Attachment& a, const Runner& run) {
    json result;
    const json& plugins = conflist["plugins"];
    for (std::size_t i = 0; i < plugins.size(); ++i) {
        std::string type = plugins[i]["type"];
        json conf = plugin_config(conflist, i, a, i == 0 ? nullptr : &result);
        try {
            result = read_answer(type, "ADD", run("ADD", type, conf.dump()));
        } catch (const std::exception&) {
            // What the chain made so far goes; its own errors do not hide the first.
            try {
                del(conflist, a, i == 0 ? nullptr : &result, run);
            } catch (const std::exception&) {
            }
            throw;
        }
    }
    return result;
}

void del(const json& conflist, const Attachment& a, const json* cached_result, const Runner& run) {
    const json& plugins = conflist["plugins"];
    std::optional<Error> first;
    for (std::size_t i = plugins.size(); i-- > 0;) {
        std::string type = plugins[i]["type"];
        json conf = plugin_config(conflist, i, a, cached_result);
        try {
            read_answer(type, "DEL", run("DEL", type, conf.dump()));
        } catch (const Error& e) {
            if (!first) first = e;
        }
    }
    if (first) throw *first;
}

void check(const json& conflist, const Attachment& a, const json& cached_result, const Runner& run) {
    if (compare_versions(version_of(conflist), "0.4.0") < 0 || conflist.value("disableCheck", false)) return;
    const json& plugins = conflist["plugins"];
    for (std::size_t i = 0; i < plugins.size(); ++i) {
        std::string type = plugins[i]["type"];
        read_answer(type, "CHECK", run("CHECK", type, plugin_config(conflist, i, a, &cached_result).dump()));
    }
}

bool gc(const json& conflist, const json& valid_attachments, const Runner& run) {
    if (compare_versions(version_of(conflist), "1.1.0") < 0 || conflist.value("disableGC", false)) return false;
    const json& plugins = conflist["plugins"];
    for (std::size_t i = 0; i < plugins.size(); ++i) {
        std::string type = plugins[i]["type"];
        json conf = plugin_config(conflist, i, Attachment{}, nullptr);
        conf["cni.dev/valid-attachments"] = valid_attachments;
        read_answer(type, "GC", run("GC", type, conf.dump()));
    }
    return true;
}

json to_status(const json& result) {
    json status = {{"interfaces", json::array()}, {"ips", json::array()}, {"routes", json::array()},
                   {"dns", json::object()}};
    if (result.contains("interfaces") && result["interfaces"].is_array())
        for (const auto& i : result["interfaces"]) {
            json x = {{"name", i.value("name", "")}, {"mac", i.value("mac", "")}};
            if (i.contains("sandbox")) x["sandbox"] = i["sandbox"];
            status["interfaces"].push_back(x);
        }
    if (result.contains("ips") && result["ips"].is_array())
        for (const auto& ip : result["ips"]) {
            json x = {{"address", ip.value("address", "")}};
            if (ip.contains("gateway")) x["gateway"] = ip["gateway"];
            if (ip.contains("interface")) x["interface"] = ip["interface"];
            status["ips"].push_back(x);
        }
    if (result.contains("routes") && result["routes"].is_array())
        for (const auto& r : result["routes"]) {
            json x = {{"dst", r.value("dst", "")}};
            if (r.contains("gw")) x["gw"] = r["gw"];
            status["routes"].push_back(x);
        }
    if (result.contains("dns") && result["dns"].is_object()) {
        const json& d = result["dns"];
        json x = json::object();
        for (const char* k : {"nameservers", "search", "options"})
            if (d.contains(k) && d[k].is_array()) x[k] = d[k];
        if (d.contains("domain") && d["domain"].is_string()) x["domain"] = d["domain"];
        status["dns"] = x;
    }
    return status;
}

}  // namespace kiln::cni
