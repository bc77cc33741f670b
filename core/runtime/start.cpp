// kiln-runtime start: lets a created container's init exec the process.
#include "core/runtime/cli.hpp"

namespace kiln::runtime {

void add_start(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("start", "start a created container");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "container id")->required();
    cmd->callback([&g, id] { g.open().start(*id); });
}

}  // namespace kiln::runtime
