// resources: cgroup limits for every container of a pod that sets none of its own:
// {memory: "256m", cpus: 0.5, pids: 100}. The deployment's config gives the defaults, a pod's
// its own; a container's own resources (kiln run --memory ...) win over both.
#include "isolators/common/isolator.hpp"

#include <cmath>

namespace kiln::isolators {
namespace {

std::int64_t size_of(const json& v, const std::string& where) {
    if (v.is_number_integer() && v.get<std::int64_t>() > 0) return v.get<std::int64_t>();
    if (!v.is_string()) bad(where, "must be bytes or a size such as \"256m\"");
    std::string s = v.get<std::string>();
    std::size_t used = 0;
    double n = 0;
    try {
        n = std::stod(s, &used);
    } catch (...) {
        bad(where, "\"" + s + "\" is not a size such as \"256m\"");
    }
    std::string unit = s.substr(used);
    double mult = unit.empty() || unit == "b" ? 1 : unit == "k" ? 1024.0 : unit == "m" ? 1048576.0 : unit == "g" ? 1073741824.0 : -1;
    if (mult < 0 || n <= 0) bad(where, "\"" + s + "\" is not a size such as \"256m\"");
    return static_cast<std::int64_t>(n * mult);
}

class Resources : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "resources"; }
    void check(const json& config, const std::string& where) const override {
        for (const auto& [k, v] : config.items()) {
            if (k == "memory") size_of(v, where + ".memory");
            else if (k == "cpus") {
                if (!v.is_number() || v.get<double>() <= 0) bad(where + ".cpus", "must be a number above 0");
            } else if (k == "pids") {
                if (!v.is_number_integer() || v.get<std::int64_t>() < 1) bad(where + ".pids", "must be an integer above 0");
            } else {
                bad(where + "." + k, "unknown field (known: memory, cpus, pids)");
            }
        }
    }
    void edit(json& spec, const json& config) const override {
        auto& r = spec["linux"]["resources"];
        if (config.contains("memory") && !r.contains("memory")) r["memory"] = {{"limit", size_of(config["memory"], "")}};
        if (config.contains("cpus") && !r.contains("cpu")) {
            const std::int64_t period = 100000;
            r["cpu"] = {{"quota", static_cast<std::int64_t>(std::llround(config["cpus"].get<double>() * period))},
                        {"period", period}};
        }
        if (config.contains("pids") && !r.contains("pids")) r["pids"] = {{"limit", config["pids"].get<std::int64_t>()}};
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::Resources)
