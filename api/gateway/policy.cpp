#include "api/gateway/policy.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <stdexcept>

namespace kiln::gateway {

using json = nlohmann::json;

std::string sha256_hex(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

namespace {

std::set<std::string> read_scopes(const json& j, const std::string& where) {
    std::set<std::string> out;
    if (!j.contains("scopes")) return out;
    if (!j["scopes"].is_array()) throw std::runtime_error(where + ".scopes: must be a list");
    for (const auto& s : j["scopes"]) {
        std::string v = s.is_string() ? s.get<std::string>() : "";
        if (std::none_of(std::begin(kScopes), std::end(kScopes), [&](const char* k) { return v == k; }))
            throw std::runtime_error(where + ".scopes: " + s.dump() + " is not one of privileged, host-access, api-access, admin");
        out.insert(v);
    }
    return out;
}

// The path without the query.
std::string path_of(const std::string& target) { return target.substr(0, target.find('?')); }

std::vector<std::string> segments(const std::string& path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

}  // namespace

Policy Policy::from_json(const json& config) {
    Policy p;
    for (std::size_t i = 0; i < config.value("tokens", json::array()).size(); ++i) {
        const json& t = config["tokens"][i];
        std::string where = "tokens[" + std::to_string(i) + "]";
        Token tok;
        tok.name = t.value("name", where);
        tok.sha256 = t.value("sha256", "");
        if (tok.sha256.size() != 64) throw std::runtime_error(where + ".sha256: must be 64 hex digits");
        tok.scopes = read_scopes(t, where);
        p.tokens.push_back(std::move(tok));
    }
    for (std::size_t i = 0; i < config.value("clients", json::array()).size(); ++i) {
        const json& c = config["clients"][i];
        std::string where = "clients[" + std::to_string(i) + "]";
        Client cl;
        cl.common_name = c.value("commonName", "");
        if (cl.common_name.empty()) throw std::runtime_error(where + ".commonName: is required");
        cl.scopes = read_scopes(c, where);
        p.clients.push_back(std::move(cl));
    }
    return p;
}

std::optional<Identity> Policy::by_token(const std::string& authorization) const {
    const std::string prefix = "Bearer ";
    if (authorization.size() <= prefix.size() || authorization.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
    std::string hash = sha256_hex(authorization.substr(prefix.size()));
    std::optional<Identity> found;
    for (const auto& t : tokens)  // every one compared, in constant time
        if (CRYPTO_memcmp(hash.data(), t.sha256.data(), 64) == 0) found = Identity{t.name, t.scopes};
    return found;
}

std::optional<Identity> Policy::by_certificate(const std::string& common_name) const {
    for (const auto& c : clients)
        if (c.common_name == common_name) return Identity{"cert:" + common_name, c.scopes};
    return std::nullopt;
}

namespace {

// The first scope `who` lacks for a pod with this spec, as a 403's message; empty when none.
std::string pod_needs(const Identity& who, const json& pod, const std::string& what) {
    auto need = [&](const std::string& scope, const std::string& why) -> std::string {
        return who.has(scope) ? "" : why + " needs the scope " + scope + ", which " + who.name + " does not have";
    };
    std::vector<std::pair<std::string, json>> isolators;  // name, config
    if (pod.contains("isolators")) {
        const json& iso = pod["isolators"];
        if (iso.is_array()) {
            for (const auto& i : iso)
                if (i.is_object() && i.contains("name") && i["name"].is_string())
                    isolators.emplace_back(i["name"], i.value("config", json::object()));
        } else if (iso.is_object()) {
            for (const auto& [name, config] : iso.items()) isolators.emplace_back(name, config);
        }
    }
    for (const auto& [name, config] : isolators) {
        std::string scope = name == "namespaces" ? "privileged" : name;
        if (scope == "privileged" || scope == "host-access" || scope == "api-access")
            if (auto why = need(scope, what + "the isolator " + name); !why.empty()) return why;
        // Capabilities beyond the default set, or a seccomp filter other than the default, take
        // a container most of the way to the host.
        if (name == "capabilities" && config.is_object() && config.contains("add") && !config["add"].empty())
            if (auto why = need("privileged", what + "capabilities.add"); !why.empty()) return why;
        if (name == "capabilities" && config.is_object() && config.contains("default"))
            if (auto why = need("privileged", what + "capabilities.default"); !why.empty()) return why;
        if (name == "seccomp" && config.is_object() && config.value("profile", json("default")) != "default")
            if (auto why = need("privileged", what + "seccomp.profile other than default"); !why.empty()) return why;
    }
    if (pod.contains("ports") && pod["ports"].is_array())
        for (const auto& port : pod["ports"])
            if (port.is_object() && port.value("hostPort", 65536) < 1024)
                if (auto why = need("host-access", what + "a host port below 1024"); !why.empty()) return why;
    if (pod.contains("volumes") && pod["volumes"].is_array())
        for (const auto& v : pod["volumes"])
            if (v.is_object() && v.contains("hostPath"))
                if (auto why = need("host-access", what + "a hostPath volume"); !why.empty()) return why;
    if (pod.contains("networks") && pod["networks"] == json::array({"host"}))
        if (auto why = need("privileged", what + "the host's network"); !why.empty()) return why;
    return "";
}

}  // namespace

std::string authorize(const Identity& who, const std::string& method, const std::string& target, const std::string& body,
                      bool upgrade,
                      const std::function<std::optional<json>(const std::string&)>& pod_record) {
    auto seg = segments(path_of(target));
    auto need = [&](const std::string& scope, const std::string& why) -> std::string {
        return who.has(scope) ? "" : why + " needs the scope " + scope + ", which " + who.name + " does not have";
    };
    if (seg.size() == 2 && seg[0] == "v1" && seg[1] == "pods" && method == "POST") {
        json pod = json::parse(body, nullptr, false);
        if (!pod.is_object()) return "";  // kilnd answers 400
        return pod_needs(who, pod, "");
    }
    if (seg.size() == 3 && seg[0] == "v1" && seg[1] == "images" && method == "POST" &&
        (seg[2] == "import" || seg[2] == "build" || seg[2] == "export"))
        return need("host-access", "POST /v1/images/" + seg[2] + " (a path on kilnd's host)");
    if (seg.size() >= 3 && seg[0] == "v1" && seg[1] == "pods" && (method != "GET" || upgrade)) {
        auto rec = pod_record(seg[2]);
        if (!rec) return "";  // kilnd answers 404
        if (rec->value("system", false))
            return need("privileged", (upgrade ? "a WebSocket " : "") + method + " on the plugin pod " + seg[2]);
        bool into = seg.size() >= 6 && (seg[5] == "exec" || seg[5] == "attach");
        if (into && rec->contains("spec")) return pod_needs(who, (*rec)["spec"], seg[5] + " into " + seg[2] + ": ");
    }
    return "";
}

}  // namespace kiln::gateway
