#include "core/daemon/pod_stats.hpp"

#include <optional>
#include <sstream>

#include "core/sys/file.hpp"

namespace kiln::daemon {

namespace {

using json = nlohmann::json;

std::optional<std::int64_t> read_number(const std::string& path) {
    auto text = read_file_if_exists(path);
    if (!text) return std::nullopt;
    try {
        if (text->rfind("max", 0) == 0) return std::nullopt;
        return std::stoll(*text);
    } catch (...) {
        return std::nullopt;
    }
}

std::optional<std::int64_t> read_key(const std::string& path, const std::string& key) {
    auto text = read_file_if_exists(path);
    if (!text) return std::nullopt;
    std::istringstream in(*text);
    std::string k;
    std::int64_t v;
    while (in >> k >> v)
        if (k == key) return v;
    return std::nullopt;
}

}  // namespace

json cgroup_stats(const cgroups::Layout& layout, const std::string& path) {
    json j = json::object();
    auto dir = [&](const cgroups::Hierarchy* h) { return h->mount_point + path; };
    if (auto* h = layout.find("cpuacct", "cpu")) {
        if (h->version == cgroups::Version::v1) {
            if (auto ns = read_number(dir(h) + "/cpuacct.usage")) j["cpuSeconds"] = static_cast<double>(*ns) / 1e9;
        } else if (auto us = read_key(dir(h) + "/cpu.stat", "usage_usec")) {
            j["cpuSeconds"] = static_cast<double>(*us) / 1e6;
        }
    }
    if (auto* h = layout.find("memory")) {
        bool v1 = h->version == cgroups::Version::v1;
        if (auto u = read_number(dir(h) + (v1 ? "/memory.usage_in_bytes" : "/memory.current"))) j["memoryBytes"] = *u;
        auto limit = read_number(dir(h) + (v1 ? "/memory.limit_in_bytes" : "/memory.max"));
        // v1 reports "no limit" as a huge page-rounded number.
        if (limit && *limit < (std::int64_t{1} << 62)) j["memoryLimitBytes"] = *limit;
    }
    if (auto* h = layout.find("pids")) {
        if (auto n = read_number(dir(h) + "/pids.current")) j["pids"] = *n;
        if (auto n = read_number(dir(h) + "/pids.max")) j["pidsLimit"] = *n;
    }
    return j;
}

json pod_stats(const PodManager& pods, const PodRecord& pod, const cgroups::Layout& layout) {
    json containers = json::array();
    for (const auto& c : pod.containers) {
        json s = c.state == State::running ? cgroup_stats(layout, pods.cgroup_path(pod.spec.name, c.name)) : json::object();
        s["name"] = c.name;
        s["state"] = state_name(c.state);
        s["restartCount"] = c.restart_count;
        containers.push_back(s);
    }
    json out = cgroup_stats(layout, pods.cgroup_path(pod.spec.name));
    out["name"] = pod.spec.name;
    out["containers"] = containers;
    return out;
}

}  // namespace kiln::daemon
