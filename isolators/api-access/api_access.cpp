// api-access: kilnd's API socket inside the container, at /run/kiln/kiln.sock, with KILN_HOST
// pointing there, so that `kiln` and the REST client work from inside ({enabled: true} by
// default). Whoever has it has kilnd: grant it as you would root.
#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class ApiAccess : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "api-access"; }
    void check(const json& config, const std::string& where) const override { check_enabled_only(config, where); }
    void edit(json& spec, const json& config) const override {
        if (!config.value("enabled", true)) return;
        spec["mounts"].push_back({{"destination", "/run/kiln/kiln.sock"},
                                  {"type", "bind"},
                                  {"source", host_.api_socket()},
                                  {"options", {"bind", "rw", "nosuid", "nodev", "noexec"}}});
        add_to(spec["process"]["env"], "KILN_HOST=unix:///run/kiln/kiln.sock");
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::ApiAccess)
