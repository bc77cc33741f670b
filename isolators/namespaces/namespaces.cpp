// namespaces: {host: [net, ipc, uts, pid]} puts the container in those namespaces of the host
// instead of the pod's (the entries leave the spec, so the runtime keeps its own, the host's).
#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class Namespaces : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "namespaces"; }
    void check(const json& config, const std::string& where) const override {
        for (const auto& [k, v] : config.items())
            if (k != "host") bad(where + "." + k, "unknown field (known: host)");
        auto host = strings(config, "host", where);
        for (std::size_t i = 0; i < host.size(); ++i)
            if (host[i] != "net" && host[i] != "ipc" && host[i] != "uts" && host[i] != "pid")
                bad(where + ".host[" + std::to_string(i) + "]", "\"" + host[i] + "\" is not one of net, ipc, uts, pid");
    }
    void edit(json& spec, const json& config) const override {
        auto host = strings(config, "host", "");
        json kept = json::array();
        for (const auto& ns : spec["linux"].value("namespaces", json::array())) {
            std::string type = ns.value("type", "");
            std::string shortname = type == "network" ? "net" : type;
            if (std::find(host.begin(), host.end(), shortname) == host.end()) kept.push_back(ns);
        }
        spec["linux"]["namespaces"] = kept;
        if (std::find(host.begin(), host.end(), "uts") != host.end()) spec.erase("hostname");
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::Namespaces)
