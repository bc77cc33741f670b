// host-access: named host paths mounted into a container. The deployment names what may be
// had (kiln.yaml: plugins: {host-access: {paths: {data: {path: /srv/data, writable: true}}}});
// a pod asks for them by name ({mounts: [{name: data, destination: /data, readonly: false}]}).
// A mount is read-only unless the pod asks for it writable and the deployment grants that.
#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class HostAccess : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "host-access"; }
    void check(const json& config, const std::string& where) const override {
        for (const auto& [k, v] : config.items())
            if (k != "paths" && k != "mounts") bad(where + "." + k, "unknown field (known: paths, mounts)");
        if (config.contains("paths")) {
            if (!config["paths"].is_object()) bad(where + ".paths", "must be a map of names to {path, writable}");
            for (const auto& [n, p] : config["paths"].items()) {
                std::string at = where + ".paths." + n;
                if (!p.is_object() || !p.contains("path") || !p["path"].is_string() || p["path"].get<std::string>().empty() ||
                    p["path"].get<std::string>()[0] != '/')
                    bad(at, "must be {path: /absolute/path, writable: true|false}");
                if (p.contains("writable") && !p["writable"].is_boolean()) bad(at + ".writable", "must be true or false");
            }
        }
        if (!config.contains("mounts")) return;
        if (!config["mounts"].is_array()) bad(where + ".mounts", "must be a list of {name, destination, readonly}");
        for (std::size_t i = 0; i < config["mounts"].size(); ++i) {
            const auto& m = config["mounts"][i];
            std::string at = where + ".mounts[" + std::to_string(i) + "]";
            if (!m.is_object() || !m.contains("name") || !m["name"].is_string()) bad(at + ".name", "is required");
            std::string n = m["name"];
            if (!config.contains("paths") || !config["paths"].contains(n)) {
                std::string known;
                if (config.contains("paths"))
                    for (const auto& [k, v] : config["paths"].items()) known += (known.empty() ? "" : ", ") + k;
                bad(at + ".name", "\"" + n + "\" is not a host path this deployment grants (granted: " +
                                      (known.empty() ? "none" : known) + ")");
            }
            if (!m.contains("destination") || !m["destination"].is_string() || m["destination"].get<std::string>().empty() ||
                m["destination"].get<std::string>()[0] != '/')
                bad(at + ".destination", "must be an absolute path in the container");
            if (m.contains("readonly") && !m["readonly"].is_boolean()) bad(at + ".readonly", "must be true or false");
            if (!m.value("readonly", true) && !config["paths"][n].value("writable", false))
                bad(at + ".readonly", "host path \"" + n + "\" is granted read-only");
        }
    }
    void edit(json& spec, const json& config) const override {
        for (const auto& m : config.value("mounts", json::array())) {
            const auto& granted = config["paths"][m["name"].get<std::string>()];
            bool readonly = m.value("readonly", true);
            spec["mounts"].push_back({{"destination", m["destination"]},
                                      {"type", "bind"},
                                      {"source", granted["path"]},
                                      {"options", {"rbind", readonly ? "ro" : "rw", "nosuid", "nodev"}}});
        }
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::HostAccess)
