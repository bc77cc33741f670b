// kiln-runtime state: the container's state JSON, as runc prints it.
#include <nlohmann/json.hpp>

#include "core/runtime/cli.hpp"

namespace kiln::runtime {

nlohmann::json state_to_json(const container::ContainerInfo& info) {
    nlohmann::json j = oci::to_json(info.state);
    j["pid"] = info.state.pid;  // runc always prints it, 0 when stopped
    j["rootfs"] = info.rootfs;
    j["created"] = info.created;
    j["owner"] = info.owner == 0 ? "" : std::to_string(info.owner);
    if (!j.contains("annotations")) j["annotations"] = nlohmann::json::object();
    return j;
}

void add_state(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("state", "print the state of a container");
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "container id")->required();
    cmd->callback([&g, id] { printf("%s\n", state_to_json(g.open().state(*id)).dump(2).c_str()); });
}

}  // namespace kiln::runtime
