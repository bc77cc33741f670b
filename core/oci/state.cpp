// State JSON.
#include "core/oci/state.hpp"

#include "core/oci/json_fields.hpp"

namespace kiln::oci {

KILN_JSON_FIELDS(State) {
    v.req("ociVersion", s.oci_version);
    v.req("id", s.id);
    v.req("status", s.status);
    v("pid", s.pid);
    v.req("bundle", s.bundle);
    v("annotations", s.annotations);
}

nlohmann::json to_json(const State& state) {
    nlohmann::json j = detail::write(state);
    // The spec: pid is REQUIRED when status is created or running.
    if (state.pid > 0) j["pid"] = state.pid;
    return j;
}

State state_from_json(const nlohmann::json& j) {
    State s;
    detail::read(j, "", s);
    return s;
}

}  // namespace kiln::oci
