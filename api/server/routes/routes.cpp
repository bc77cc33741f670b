// The routes of kilnd, assembled.
#include "api/server/routes/routes.hpp"

namespace kiln::api {

std::shared_ptr<const Router> make_routes(daemon::Daemon& daemon) {
    auto r = std::make_shared<Router>();
    add_system_routes(*r, daemon);
    add_plugin_routes(*r, daemon);
    add_pod_routes(*r, daemon);
    add_container_routes(*r, daemon);
    add_image_routes(*r, daemon);
    add_event_routes(*r, daemon);
    return r;
}

}  // namespace kiln::api
