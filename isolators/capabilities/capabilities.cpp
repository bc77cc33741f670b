// capabilities: the container's capability sets. {default: [...]} replaces kilnd's default set
// (the deployment's choice), {add: [...]} and {drop: [...]} change it ("ALL" in drop empties it
// before the adds). Every set (bounding, effective, permitted; inheritable and ambient are left
// empty) gets the result.
#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class Capabilities : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "capabilities"; }
    void check(const json& config, const std::string& where) const override {
        for (const auto& [k, v] : config.items())
            if (k != "default" && k != "add" && k != "drop") bad(where + "." + k, "unknown field (known: default, add, drop)");
        for (const char* key : {"default", "add", "drop"}) {
            auto list = strings(config, key, where);
            for (std::size_t i = 0; i < list.size(); ++i)
                if (!(std::string(key) == "drop" && list[i] == "ALL"))
                    capability(list[i], where + "." + key + "[" + std::to_string(i) + "]");
        }
    }
    void edit(json& spec, const json& config) const override {
        json caps = json::array();
        if (auto p = spec.find("process"); p != spec.end() && p->is_object())
            if (auto c = p->find("capabilities"); c != p->end() && c->is_object()) caps = c->value("bounding", json::array());
        if (config.contains("default") && !config["default"].is_null()) {
            caps = json::array();
            for (const auto& c : strings(config, "default", "")) add_to(caps, capability(c, ""));
        }
        for (const auto& c : strings(config, "drop", "")) {
            if (c == "ALL") caps = json::array();
            else remove_from(caps, capability(c, ""));
        }
        for (const auto& c : strings(config, "add", "")) add_to(caps, capability(c, ""));
        for (const char* set : {"bounding", "effective", "permitted"}) spec["process"]["capabilities"][set] = caps;
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::Capabilities)
