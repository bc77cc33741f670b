// cpu: shares/weight, CFS quota and period, burst, realtime budget, idle.
#include <string>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"

namespace kiln::cgroups::cpu {
namespace {

const std::string kField = "linux.resources.cpu";

// The conversion runc and crun use: shares 2..262144 onto weight 1..10000.
uint64_t shares_to_weight(uint64_t shares) {
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

void apply_v1(const Target& t, const oci::Cpu& c) {
    if (c.shares && *c.shares) t.write("cpu.shares", std::to_string(*c.shares), kField + ".shares");
    // The period first: a quota is checked against the period in place.
    if (c.period && *c.period) t.write("cpu.cfs_period_us", std::to_string(*c.period), kField + ".period");
    if (c.quota && *c.quota) t.write("cpu.cfs_quota_us", std::to_string(*c.quota), kField + ".quota");
    if (c.burst) t.write("cpu.cfs_burst_us", std::to_string(*c.burst), kField + ".burst");
    if (c.realtime_period && *c.realtime_period)
        t.write("cpu.rt_period_us", std::to_string(*c.realtime_period), kField + ".realtimePeriod");
    if (c.realtime_runtime && *c.realtime_runtime)
        t.write("cpu.rt_runtime_us", std::to_string(*c.realtime_runtime), kField + ".realtimeRuntime");
    if (c.idle) t.write("cpu.idle", std::to_string(*c.idle), kField + ".idle");
}

void apply_v2(const Target& t, const oci::Cpu& c) {
    if (c.shares && *c.shares) t.write("cpu.weight", std::to_string(shares_to_weight(*c.shares)), kField + ".shares");
    if ((c.quota && *c.quota) || (c.period && *c.period)) {
        std::string quota = (!c.quota || *c.quota <= 0) ? "max" : std::to_string(*c.quota);
        std::string value = quota;
        if (c.period && *c.period) {
            value += " " + std::to_string(*c.period);
        } else if (quota != "max") {
            // Keep the current period: cpu.max reads "<quota> <period>".
            std::string current = t.read("cpu.max");
            auto sp = current.find(' ');
            value += " " + (sp == std::string::npos ? std::string("100000") : current.substr(sp + 1));
        }
        t.write("cpu.max", value, kField + ".quota");
    }
    if (c.burst) t.write("cpu.max.burst", std::to_string(*c.burst), kField + ".burst");
    if ((c.realtime_period && *c.realtime_period) || (c.realtime_runtime && *c.realtime_runtime))
        unsupported(kField + ".realtimeRuntime", "cgroup v2 has no realtime CPU budget");
    if (c.idle) t.write("cpu.idle", std::to_string(*c.idle), kField + ".idle");
}

}  // namespace

bool requested(const oci::Resources& r) {
    if (!r.cpu) return false;
    const auto& c = *r.cpu;
    return (c.shares && *c.shares) || (c.quota && *c.quota) || (c.period && *c.period) || c.burst ||
           (c.realtime_period && *c.realtime_period) || (c.realtime_runtime && *c.realtime_runtime) || c.idle;
}

void apply(const Target& t, const oci::Resources& r) {
    if (t.version == Version::v1) apply_v1(t, *r.cpu);
    else apply_v2(t, *r.cpu);
}

}  // namespace kiln::cgroups::cpu
