// /v1/pods: create (and start), list, inspect, start, stop, delete.
#include <optional>

#include "api/server/routes/routes.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {
namespace {

using nlohmann::json;

std::optional<double> timeout_param(const Request& req) {
    auto it = req.query.find("timeout");
    if (it == req.query.end()) return std::nullopt;
    try {
        std::size_t used = 0;
        double t = std::stod(it->second, &used);
        if (used == it->second.size() && t >= 0) return t;
    } catch (...) {
    }
    invalid("timeout: must be a number of seconds >= 0, got \"" + it->second + "\"");
}

const std::string& pod_name(const Request& req) {
    const std::string& name = req.param("name");
    if (!daemon::is_dns_label(name)) invalid("name: \"" + name + "\" is not a valid pod name");
    return name;
}

}  // namespace

void add_pod_routes(Router& r, daemon::Daemon& d) {
    r.add_slow("POST", "/v1/pods", [&d](const Request& req) {
        bool start = req.query_flag("start", true);
        daemon::PodSpec spec = daemon::parse_pod_spec(req.json());
        // dryRun: validated and answered in canonical form, nothing created (kiln apply compares).
        if (req.query_flag("dryRun", false)) return Response::json({{"spec", daemon::to_json(spec)}});
        auto rec = d.pods().create(spec, start);
        Response res = Response::json(daemon::to_json(d.pods().get(spec.name)), 201);
        res.headers["Location"] = "/v1/pods/" + spec.name;
        return res;
    });
    r.add("GET", "/v1/pods", [&d](const Request& req) {
        bool all = req.query_flag("all", true);
        bool system = req.query_flag("system", true);
        json out = json::array();
        for (const auto& p : d.pods().list()) {
            if (!all && p.state() != daemon::State::running) continue;
            if (!system && p.system) continue;
            out.push_back(daemon::to_json(p));
        }
        return Response::json(out);
    });
    r.add("GET", "/v1/pods/{name}", [&d](const Request& req) {
        return Response::json(daemon::to_json(d.pods().get(pod_name(req))));
    });
    r.add_slow("POST", "/v1/pods/{name}/start", [&d](const Request& req) {
        return Response::json(daemon::to_json(d.pods().start(pod_name(req))));
    });
    r.add_slow("POST", "/v1/pods/{name}/stop", [&d](const Request& req) {
        return Response::json(daemon::to_json(d.pods().stop(pod_name(req), timeout_param(req))));
    });
    r.add_slow("DELETE", "/v1/pods/{name}", [&d](const Request& req) {
        bool force = req.query_flag("force", false);
        if (auto plugin = d.plugin_of(pod_name(req)); plugin && !force)
            precondition("pod " + pod_name(req) + " is the container of plugin " + *plugin +
                         ": it goes when the plugin is removed from pluginDirs (force deletes it now, and the "
                         "plugin goes without it until kilnd restarts)");
        d.pods().remove(pod_name(req), force);
        return Response::no_content();
    });
}

}  // namespace kiln::api
