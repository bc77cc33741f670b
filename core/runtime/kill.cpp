// kiln-runtime kill: a signal to the container's init, or with --all to every process in it.
#include "core/runtime/cli.hpp"

namespace kiln::runtime {

void add_kill(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("kill", "send a signal to a container (default TERM)");
    struct Args {
        std::string id;
        std::string signal = "TERM";
        bool all = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-a,--all", a->all, "signal every process of the container");
    cmd->add_option("id", a->id, "container id")->required();
    cmd->add_option("signal", a->signal, "signal name or number");
    cmd->positionals_at_end();
    cmd->callback([&g, a] { g.open().kill(a->id, container::parse_signal(a->signal), a->all); });
}

}  // namespace kiln::runtime
