// /v1/info and /v1/health.
#include <sys/utsname.h>

#include "api/server/routes/routes.hpp"
#include "core/cgroups/layout.hpp"

namespace kiln::api {

void add_system_routes(Router& r, daemon::Daemon& d) {
    r.add("GET", "/v1/health", [](const Request&) { return Response::json({{"status", "ok"}}); });
    r.add("GET", "/v1/info", [&d](const Request&) {
        struct utsname u{};
        ::uname(&u);
        auto layout = cgroups::detect_layout();
        const char* mode = layout.mode == cgroups::Mode::legacy ? "v1" : layout.mode == cgroups::Mode::hybrid ? "hybrid" : "v2";
        int running = 0, total = 0, containers = 0, running_containers = 0;
        for (const auto& p : d.pods().list()) {
            ++total;
            if (p.state() == daemon::State::running) ++running;
            for (const auto& c : p.containers) {
                ++containers;
                if (c.state == daemon::State::running) ++running_containers;
            }
        }
        auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - d.started());
        return Response::json({
            {"version", KILN_VERSION},
            {"kernel", std::string(u.release)},
            {"os", std::string(u.sysname)},
            {"architecture", std::string(u.machine)},
            {"cgroupLayout", mode},
            {"cgroupParent", d.config().cgroup_parent},
            {"stateDir", d.config().state_dir},
            {"runDir", d.config().run_dir},
            {"uptimeSeconds", uptime.count()},
            {"pods", {{"total", total}, {"running", running}}},
            {"containers", {{"total", containers}, {"running", running_containers}}},
            {"images", d.images().list().size()},
        });
    });
}

}  // namespace kiln::api
