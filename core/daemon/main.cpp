// kilnd: the core daemon. Reads its config, recovers pods, serves the REST API on a unix socket.
// SIGHUP reloads the appliance pods; SIGTERM and SIGINT stop kilnd (pods keep running unless
// the config says stopPodsOnExit).
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "api/client/client.hpp"
#include "api/server/routes/routes.hpp"
#include "api/server/server.hpp"
#include "core/daemon/daemon.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/log.hpp"

namespace {

bool json_logs = false;

void to_spdlog(kiln::log::Level level, std::string_view message) {
    static const spdlog::level::level_enum levels[] = {spdlog::level::debug, spdlog::level::info,
                                                       spdlog::level::warn, spdlog::level::err};
    auto lvl = levels[static_cast<int>(level)];
    if (json_logs) {
        nlohmann::json j{{"time", kiln::rfc3339_now()}, {"level", spdlog::level::to_string_view(lvl).data()},
                         {"msg", std::string(message)}};
        spdlog::log(lvl, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    } else {
        spdlog::log(lvl, "{}", message);
    }
}

void setup_logging(const kiln::daemon::Config& c) {
    auto logger = spdlog::stderr_logger_mt("kilnd");
    spdlog::set_default_logger(logger);
    json_logs = c.log.format == "json";
    spdlog::set_pattern(json_logs ? "%v" : "%Y-%m-%dT%H:%M:%S.%e kilnd %l: %v");
    auto level = spdlog::level::from_str(c.log.level);
    spdlog::set_level(level);
    spdlog::flush_on(spdlog::level::trace);
    kiln::log::set_sink(to_spdlog);
    kiln::log::set_level(level <= spdlog::level::debug ? kiln::log::Level::debug : kiln::log::Level::info);
}

std::string own_dir() {
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string p(buf, static_cast<std::size_t>(n));
    return p.substr(0, p.find_last_of('/'));
}

}  // namespace

int main(int argc, char** argv) {
    // kilnd's threads (API handlers, the relays, the pod watcher) allocate little and seldom:
    // two malloc arenas instead of one per thread keep what they hold from adding up, unless
    // the environment says otherwise (MALLOC_ARENA_MAX).
    if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
    CLI::App app{"kilnd: the kiln daemon"};
    std::string config_path, socket, state_dir, run_dir, cgroup_parent, log_level, log_format;
    app.add_option("--config", config_path, "config file (default /etc/kiln/kiln.yaml, else the built-in one)");
    app.add_option("--socket", socket, "REST API socket (default <run-dir>/kiln.sock)");
    app.add_option("--state-dir", state_dir, "records, images and logs (default /var/lib/kiln)");
    app.add_option("--run-dir", run_dir, "sockets and runtime state (default /run/kiln)");
    app.add_option("--cgroup-parent", cgroup_parent, "cgroup under which pods go (default kiln)");
    app.add_option("--log-level", log_level, "trace, debug, info, warn or error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.set_version_flag("--version", std::string("kilnd ") + KILN_VERSION);
    CLI11_PARSE(app, argc, argv);

    auto load = [&]() {
        kiln::daemon::Config c = kiln::daemon::load_config(config_path);
        if (!state_dir.empty()) c.state_dir = state_dir;
        if (!run_dir.empty()) c.run_dir = run_dir;
        if (!socket.empty()) c.api.socket = socket;
        if (!cgroup_parent.empty()) c.cgroup_parent = cgroup_parent;
        if (!log_level.empty()) c.log.level = log_level;
        if (!log_format.empty()) c.log.format = log_format;
        return c;
    };

    // The signals kilnd handles are taken synchronously by this thread; every thread started
    // after this inherits the mask.
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    kiln::daemon::Config config;
    try {
        config = load();
    } catch (const std::exception& e) {
        std::cerr << "kilnd: " << e.what() << "\n";
        return 2;
    }
    setup_logging(config);
    try {
        kiln::daemon::Daemon daemon(config, own_dir());
        kiln::api::ServerOptions so;
        so.socket_path = config.socket_path();
        so.mode = config.api.socket_mode;
        so.group = config.api.socket_group;
        so.max_body_bytes = config.api.max_body_bytes;
        so.read_timeout = std::chrono::milliseconds(static_cast<long>(config.api.request_timeout * 1000));
        so.idle_timeout = std::chrono::milliseconds(static_cast<long>(config.api.idle_timeout * 1000));
        so.access_log = [&daemon](const kiln::api::AccessRecord& r) {
            daemon.record_request(r.method, r.status, r.duration);
            if (kiln::log::enabled(kiln::log::Level::debug))
                kiln::log::debug(std::string(r.method) + " " + std::string(r.path) + " " + std::to_string(r.status) +
                                 " " + std::to_string(r.duration.count()) + "us");
        };
        kiln::api::Server server(so, kiln::api::make_routes(daemon));
        // HostContext::api: a plugin granted API access talks to this socket like any client,
        // once it is served (a call from a plugin's start() would wait on kilnd's own start).
        std::atomic<bool> serving{false};
        daemon.plugins().set_api([&serving, socket = so.socket_path](const std::string& method, const std::string& path,
                                                                     const std::string& body) {
            if (!serving) throw std::runtime_error("kilnd serves its API once every plugin has started; call api() after start()");
            kiln::api::Client client(socket);
            client.set_timeout(std::chrono::seconds(60));
            auto r = body.empty() ? client.request(method, path) : client.request(method, path, body, "application/json");
            return std::make_pair(r.status, r.body);
        });
        // The socket first (plugin containers with API access mount it), served once the pods
        // and plugins are up: requests meanwhile wait in its backlog.
        server.listen();
        daemon.start();
        server.start();
        serving = true;
        kiln::log::info("kilnd " KILN_VERSION " listening on " + so.socket_path + " (config " + config.source + ")");
        for (;;) {
            int sig = 0;
            if (::sigwait(&set, &sig) != 0) continue;
            if (sig == SIGHUP) {
                try {
                    daemon.reload(load());
                    kiln::log::info("reloaded the config");
                } catch (const std::exception& e) {
                    kiln::log::error(std::string("reload: ") + e.what() + " (kept the running config)");
                }
                continue;
            }
            kiln::log::info(std::string("stopping on ") + ::strsignal(sig));
            break;
        }
        server.stop();
        daemon.stop();
    } catch (const std::exception& e) {
        kiln::log::error(e.what());
        return 1;
    }
    return 0;
}
