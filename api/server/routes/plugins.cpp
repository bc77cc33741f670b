// /v1/plugins: what the plugin host found, loaded, started, or failed to, and why.
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
}

}  // namespace kiln::api
