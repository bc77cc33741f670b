// The state of a container as the runtime spec defines it (runtime.md "State"), and the
// state given to hooks on stdin.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace kiln::oci {

struct State {
    std::string oci_version;
    std::string id;
    std::string status;  // creating | created | running | stopped (and paused, as runc reports)
    pid_t pid = 0;
    std::string bundle;
    std::map<std::string, std::string> annotations;
};

nlohmann::json to_json(const State& state);
State state_from_json(const nlohmann::json& j);

}  // namespace kiln::oci
