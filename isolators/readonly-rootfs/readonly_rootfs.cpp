// readonly-rootfs: the container's root filesystem mounted read-only ({enabled: true} by
// default; a pod may say {enabled: false} when the deployment turns it on for all).
#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class ReadonlyRootfs : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "readonly-rootfs"; }
    void check(const json& config, const std::string& where) const override { check_enabled_only(config, where); }
    void edit(json& spec, const json& config) const override { spec["root"]["readonly"] = config.value("enabled", true); }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::ReadonlyRootfs)
