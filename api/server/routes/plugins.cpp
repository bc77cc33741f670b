// /v1/plugins: what the plugin host found, loaded, started, or failed to, and why; /v1/networks:
// the networks pods may join, and their plugins.
#include <algorithm>

#include "api/server/routes/routes.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {

void add_plugin_routes(Router& r, daemon::Daemon& d) {
    r.add("GET", "/v1/plugins", [&d](const Request&) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& p : d.plugins().list()) out.push_back(daemon::to_json(p));
        return Response::json(out);
    });
    r.add("GET", "/v1/plugins/{id}", [&d](const Request& req) {
        auto p = d.plugins().get(req.param("id"));
        if (!p) not_found("plugin \"" + req.param("id") + "\" not found");
        return Response::json(daemon::to_json(*p));
    });
    r.add("GET", "/v1/networks", [&d](const Request&) {
        const auto& config = d.config();
        nlohmann::json out = nlohmann::json::array();
        for (const auto& n : config.networks) {
            auto plugin = d.plugins().get(n.plugin);
            out.push_back({{"name", n.name},
                           {"plugin", n.plugin},
                           {"pluginState", plugin ? std::string(daemon::plugin_state_name(plugin->state)) : "missing"},
                           {"default", std::count(config.default_networks.begin(), config.default_networks.end(), n.name) > 0},
                           {"config", n.config}});
        }
        return Response::json(out);
    });
}

}  // namespace kiln::api
