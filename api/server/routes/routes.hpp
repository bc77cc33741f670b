// kilnd's REST routes over the daemon, one file per resource (pods, containers, images, events,
// system). api/openapi.yaml is their contract.
#pragma once

#include <memory>

#include "api/server/router.hpp"
#include "core/daemon/daemon.hpp"

namespace kiln::api {

std::shared_ptr<const Router> make_routes(daemon::Daemon& daemon);

void add_pod_routes(Router& r, daemon::Daemon& d);
void add_container_routes(Router& r, daemon::Daemon& d);
void add_image_routes(Router& r, daemon::Daemon& d);
void add_event_routes(Router& r, daemon::Daemon& d);
void add_system_routes(Router& r, daemon::Daemon& d);
void add_plugin_routes(Router& r, daemon::Daemon& d);

}  // namespace kiln::api
