// kiln-runtime features: what this runtime supports, in the JSON of runc's `features`
// (runtime-spec features.md).
#include <seccomp.h>

#include <nlohmann/json.hpp>

#include "core/cgroups/layout.hpp"
#include "core/container/mount_options.hpp"
#include "core/container/seccomp.hpp"
#include "core/oci/names.hpp"
#include "core/oci/spec.hpp"
#include "core/runtime/cli.hpp"

namespace kiln::runtime {

nlohmann::json features_json() {
    using nlohmann::json;
    const scmp_version* v = seccomp_version();
    std::string libseccomp = std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
    std::vector<std::string> namespaces = oci::namespace_types();
    std::sort(namespaces.begin(), namespaces.end());
    return json{
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", oci::kSpecVersion},
        {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
        {"mountOptions", container::known_mount_options()},
        {"linux",
         {{"namespaces", namespaces},
          {"capabilities", oci::all_capability_names()},
          {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", true}}},
          {"seccomp",
           {{"enabled", true},
            {"actions", container::seccomp_known_actions()},
            {"operators", container::seccomp_known_operators()},
            {"archs", container::seccomp_known_architectures()},
            {"knownFlags", container::seccomp_known_flags()},
            {"supportedFlags", container::seccomp_supported_flags()}}},
          {"apparmor", {{"enabled", false}}},
          {"selinux", {{"enabled", false}}},
          {"intelRdt", {{"enabled", false}}},
          {"mountExtensions", {{"idmap", {{"enabled", true}}}}}}},
        {"annotations",
         {{"io.github.seccomp.libseccomp.version", libseccomp},
          {"org.opencontainers.runc.checkpoint.enabled", "false"},
          {"org.opencontainers.runc.version", KILN_VERSION}}},
    };
}

void add_features(CLI::App& app, Globals&) {
    auto* cmd = app.add_subcommand("features", "print the features this runtime supports, as JSON");
    cmd->callback([] { printf("%s\n", features_json().dump(4).c_str()); });
}

}  // namespace kiln::runtime
