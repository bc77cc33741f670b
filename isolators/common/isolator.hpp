// What kiln's isolator plugins share: a base that parses the JSON once and names the field of a
// bad config, and small readers. Header-only, over the SDK and nlohmann/json.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <kiln/plugin.hpp>
#include <nlohmann/json.hpp>

namespace kiln::isolators {

using json = nlohmann::json;

// A config error: "<field>: <why>".
[[noreturn]] inline void bad(const std::string& field, const std::string& why) { throw std::runtime_error(field + ": " + why); }

// An isolator: `defaults` is the plugin's config (the deployment's), `request` the pod's config
// for it; edit() changes the spec in place.
class Isolator : public sdk::IsolatorPlugin {
public:
    explicit Isolator(sdk::HostContext& host) : host_(host) {}

    void start() override {
        defaults_ = json::parse(host_.config_json());
        check(defaults_, "config");
    }

    std::string edit_spec(const std::string& spec_text, const std::string& request_text) override {
        json spec = json::parse(spec_text);
        json request = json::parse(request_text);
        json config = defaults_;
        if (request.contains("config") && request["config"].is_object()) config.merge_patch(request["config"]);
        check(config, "isolators[" + name() + "].config");
        edit(spec, config);
        return spec.dump();
    }

protected:
    virtual std::string name() const = 0;
    // Throws bad(...) for a config it cannot use; `where` names it.
    virtual void check(const json& config, const std::string& where) const = 0;
    virtual void edit(json& spec, const json& config) const = 0;

    sdk::HostContext& host_;
    json defaults_;
};

// A config of one optional boolean, `enabled`; value() of it, true when absent.
inline void check_enabled_only(const json& config, const std::string& where) {
    for (const auto& [k, v] : config.items())
        if (k != "enabled") bad(where + "." + k, "unknown field (known: enabled)");
    if (config.contains("enabled") && !config["enabled"].is_boolean()) bad(where + ".enabled", "must be true or false");
}

inline std::vector<std::string> strings(const json& config, const char* key, const std::string& where) {
    if (!config.contains(key) || config[key].is_null()) return {};
    if (!config[key].is_array()) bad(where + "." + key, "must be a list of strings");
    std::vector<std::string> out;
    for (const auto& v : config[key]) {
        if (!v.is_string()) bad(where + "." + key, "must be a list of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

// "CAP_NET_ADMIN" or "net_admin" -> "CAP_NET_ADMIN".
inline std::string capability(std::string name, const std::string& where) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    if (!name.starts_with("CAP_")) name = "CAP_" + name;
    if (name.size() < 5 || !std::all_of(name.begin() + 4, name.end(), [](char c) { return std::isupper(c) || c == '_'; }))
        bad(where, "\"" + name + "\" is not a capability name");
    return name;
}

inline void remove_from(json& list, const std::string& value) {
    if (!list.is_array()) return;
    json kept = json::array();
    for (const auto& v : list)
        if (v != value) kept.push_back(v);
    list = kept;
}

inline void add_to(json& list, const std::string& value) {
    if (!list.is_array()) list = json::array();
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

}  // namespace kiln::isolators
