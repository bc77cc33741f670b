// devices: which device nodes a container may open or create (v1 devices.allow/deny; v2 a BPF
// program, see devices_bpf.cpp).
#include <fcntl.h>

#include <string>

#include "core/cgroups/controller.hpp"
#include "core/cgroups/controllers/devices_bpf.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"

namespace kiln::cgroups::devices {
namespace {

std::string v1_rule(const oci::DeviceRule& d) {
    std::string type = d.type.empty() ? "a" : d.type;
    if (type == "a") return "a";  // the kernel reads "a" as every device with every access
    std::string major = d.major ? std::to_string(*d.major) : "*";
    std::string minor = d.minor ? std::to_string(*d.minor) : "*";
    return type + " " + major + ":" + minor + " " + (d.access.empty() ? "rwm" : d.access);
}

}  // namespace

bool requested(const oci::Resources& r) { return !r.devices.empty(); }

void apply(const Target& t, const oci::Resources& r) {
    if (t.version == Version::v1) {
        LineWriter allow(t, "devices.allow"), deny(t, "devices.deny");
        for (size_t i = 0; i < r.devices.size(); ++i) {
            const auto& d = r.devices[i];
            (d.allow ? allow : deny).write(v1_rule(d), "linux.resources.devices[" + std::to_string(i) + "]");
        }
        return;
    }
    Fd dir(::open(t.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw_sys("open", t.dir);
    attach_device_program(dir.get(), build_device_program(r.devices));
}

}  // namespace kiln::cgroups::devices
