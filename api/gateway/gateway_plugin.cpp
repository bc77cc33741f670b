// The gateway plugin: checks its config, puts the certificate, key and client CA into the
// container's /conf (its state dir's conf/), and writes /conf/gateway.json for kiln-gateway,
// with every token as its SHA-256. The gateway's work is all in the container; this kind of
// plugin hears kilnd's events and ignores them.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <kiln/plugin.hpp>
#include <nlohmann/json.hpp>

#include "api/gateway/policy.hpp"

namespace kiln::gateway {
namespace {

using json = nlohmann::json;

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Written whole, and only when it changed (kiln-gateway starts again on a change).
void put(const std::string& path, const std::string& data, mode_t mode) {
    std::ifstream in(path);
    if (in && std::string((std::istreambuf_iterator<char>(in)), {}) == data) return;
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << data;
        if (!out.flush()) throw std::runtime_error("writing " + tmp);
    }
    ::chmod(tmp.c_str(), mode);
    std::filesystem::rename(tmp, path);
}

class Gateway : public sdk::InstrumentationPlugin {
public:
    explicit Gateway(sdk::HostContext& host) : host_(host) {}

    void start() override {
        json c = json::parse(host_.config_json());
        for (const auto& [k, v] : c.items())
            if (k != "address" && k != "port" && k != "certFile" && k != "keyFile" && k != "clientCaFile" && k != "tokens" &&
                k != "clients")
                throw std::runtime_error("config." + k +
                                         ": unknown field (known: address, port, certFile, keyFile, clientCaFile, tokens, clients)");
        if (!c.contains("port") || !c["port"].is_number_integer() || c["port"].get<int>() < 1 || c["port"].get<int>() > 65535)
            throw std::runtime_error("config.port: must be a port number (1-65535)");
        for (const char* required : {"certFile", "keyFile"})
            if (!c.contains(required) || !c[required].is_string() || c[required].get<std::string>().empty())
                throw std::runtime_error(std::string("config.") + required + ": is required (a PEM file on the host)");
        std::string dir = host_.state_dir() + "/conf";
        std::filesystem::create_directories(dir);
        ::chmod(dir.c_str(), 0700);
        json out = {{"address", c.value("address", "0.0.0.0")},
                    {"port", c["port"]},
                    {"cert", "/conf/cert.pem"},
                    {"key", "/conf/key.pem"},
                    {"socket", "/run/kiln/kiln.sock"},
                    {"tokens", json::array()},
                    {"clients", c.value("clients", json::array())}};
        put(dir + "/cert.pem", slurp(c["certFile"]), 0600);
        put(dir + "/key.pem", slurp(c["keyFile"]), 0600);
        if (c.contains("clientCaFile")) {
            put(dir + "/clients-ca.pem", slurp(c["clientCaFile"]), 0600);
            out["clientCa"] = "/conf/clients-ca.pem";
        }
        const json tokens = c.value("tokens", json::array());
        if (!tokens.is_array()) throw std::runtime_error("config.tokens: must be a list of {name, token or sha256, scopes}");
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            const json& t = tokens[i];
            std::string where = "config.tokens[" + std::to_string(i) + "]";
            if (!t.is_object()) throw std::runtime_error(where + ": must be a map");
            json entry = {{"name", t.value("name", "token" + std::to_string(i))}, {"scopes", t.value("scopes", json::array())}};
            if (t.contains("token") && t["token"].is_string() && t["token"].get<std::string>().size() >= 16)
                entry["sha256"] = sha256_hex(t["token"]);
            else if (t.contains("sha256") && t["sha256"].is_string())
                entry["sha256"] = t["sha256"];
            else
                throw std::runtime_error(where + ": needs token (at least 16 characters) or sha256");
            out["tokens"].push_back(entry);
        }
        try {
            Policy::from_json(out);  // the gateway's own reading, to name a bad field here
        } catch (const std::exception& e) {
            throw std::runtime_error(std::string("config.") + e.what());
        }
        if (out["tokens"].empty() && !out.contains("clientCa"))
            throw std::runtime_error("config: no tokens and no clientCaFile: nobody could use the gateway");
        put(dir + "/gateway.json", out.dump(2), 0600);
        host_.log(sdk::LogLevel::info, "serving the API on " + out["address"].get<std::string>() + ":" +
                                           std::to_string(out["port"].get<int>()) + " (TLS)");
    }

    void on_event(const std::string&) override {}

private:
    sdk::HostContext& host_;
};

}  // namespace
}  // namespace kiln::gateway

KILN_PLUGIN(kiln::gateway::Gateway)
