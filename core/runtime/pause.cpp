// kiln-runtime pause and resume: freeze and thaw the container's cgroup.
#include "core/runtime/cli.hpp"

namespace kiln::runtime {

void add_pause(CLI::App& app, Globals& g) {
    auto* pause = app.add_subcommand("pause", "freeze every process of a container");
    auto pid = std::make_shared<std::string>();
    pause->add_option("id", *pid, "container id")->required();
    pause->callback([&g, pid] { g.open().pause(*pid); });

    auto* resume = app.add_subcommand("resume", "thaw a paused container");
    auto rid = std::make_shared<std::string>();
    resume->add_option("id", *rid, "container id")->required();
    resume->callback([&g, rid] { g.open().resume(*rid); });
}

}  // namespace kiln::runtime
