// Hooks the runtime runs in its own namespaces (prestart, createRuntime, poststart, poststop),
// each with the container's state JSON on stdin and its timeout honoured.
#pragma once

#include <string>
#include <vector>

#include "core/oci/spec.hpp"

namespace kiln::container {

// Runs `hooks` in order. The first that fails (non-zero exit, a signal, a timeout) throws
// kiln::Error naming it ("hooks.prestart[1]: /bin/x exited with status 2: <its output>").
void run_hooks(const std::vector<oci::Hook>& hooks, const std::string& name, const std::string& state_json);

// For hooks whose failure the spec only wants logged (poststart, poststop): runs them all and
// logs a warning for each failure.
void run_hooks_warn(const std::vector<oci::Hook>& hooks, const std::string& name, const std::string& state_json);

}  // namespace kiln::container
