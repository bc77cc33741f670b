// The usual Linux container setup, shared by `kiln-runtime spec` and kilnd's pod configs: the
// mounts of runc's default spec, and its masked and read-only paths.
#pragma once

#include <nlohmann/json.hpp>

namespace kiln::oci {

nlohmann::json default_mounts();
nlohmann::json default_masked_paths();
nlohmann::json default_readonly_paths();

}  // namespace kiln::oci
