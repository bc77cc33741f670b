// privileged: every capability kilnd itself may pass on (its bounding set: a host without
// CAP_SYS_RESOURCE, say, cannot grant it), no masked or read-only paths, no seccomp filter, every device
// of the host's /dev allowed by the devices cgroup and the host's /dev bound in. {enabled:
// true} by default, so naming it is enough.
#include <fstream>
#include <iterator>

#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class Privileged : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "privileged"; }
    void check(const json& config, const std::string& where) const override { check_enabled_only(config, where); }
    void edit(json& spec, const json& config) const override {
        if (!config.value("enabled", true)) return;
        static const char* all[] = {
            "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
            "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
            "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
            "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
            "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
            "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
            "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
            "CAP_CHECKPOINT_RESTORE"};
        // In capability number order: all[i] is capability i.
        std::uint64_t bounding = ~0ull;
        std::ifstream status("/proc/self/status");
        for (std::string line; std::getline(status, line);)
            if (line.rfind("CapBnd:", 0) == 0) bounding = std::stoull(line.substr(7), nullptr, 16);
        json caps = json::array();
        for (std::size_t i = 0; i < std::size(all); ++i)
            if (bounding & (1ull << i)) caps.push_back(all[i]);
        for (const char* set : {"bounding", "effective", "permitted"}) spec["process"]["capabilities"][set] = caps;
        spec["process"]["noNewPrivileges"] = false;
        auto& linux = spec["linux"];
        linux.erase("maskedPaths");
        linux.erase("readonlyPaths");
        linux.erase("seccomp");
        linux["resources"]["devices"] = json::array({{{"allow", true}, {"access", "rwm"}}});
        // The host's devices: /dev bound over the container's own.
        json mounts = json::array();
        for (const auto& m : spec.value("mounts", json::array()))
            if (m.value("destination", "") != "/dev") mounts.push_back(m);
        mounts.push_back({{"destination", "/dev"}, {"type", "bind"}, {"source", "/dev"}, {"options", {"rbind", "rw", "nosuid"}}});
        spec["mounts"] = mounts;
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::Privileged)
