// kiln: the command-line client of kilnd. Docker-like verbs over the REST API; -H or KILN_HOST
// picks the daemon (unix:///run/kiln/kiln.sock by default).
#include <cstdlib>
#include <iostream>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {

api::Client& Context::client() {
    if (!client_) client_ = std::make_unique<api::Client>(api::socket_path_from_host(host));
    return *client_;
}

}  // namespace kiln::cli

int main(int argc, char** argv) {
    kiln::cli::Context ctx;
    const char* env = std::getenv("KILN_HOST");
    ctx.host = env && *env ? env : "unix:///run/kiln/kiln.sock";
    CLI::App app{"kiln: run pods on kilnd"};
    app.require_subcommand(1);
    app.add_option("-H,--host", ctx.host, "kilnd's socket, unix:///path (also KILN_HOST)");
    app.set_version_flag("--version", std::string("kiln ") + KILN_VERSION);
    kiln::cli::add_run(app, ctx);
    kiln::cli::add_ps(app, ctx);
    kiln::cli::add_inspect(app, ctx);
    kiln::cli::add_start(app, ctx);
    kiln::cli::add_stop(app, ctx);
    kiln::cli::add_rm(app, ctx);
    kiln::cli::add_exec(app, ctx);
    kiln::cli::add_logs(app, ctx);
    kiln::cli::add_events(app, ctx);
    kiln::cli::add_info(app, ctx);
    kiln::cli::add_image(app, ctx);
    kiln::cli::add_apply(app, ctx);
    kiln::cli::add_pull(app, ctx);
    kiln::cli::add_plugins(app, ctx);
    kiln::cli::add_networks(app, ctx);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);
        std::cerr << "kiln: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "kiln: " << e.what() << "\n";
        return 1;
    }
    return ctx.exit_code;
}
