// memory: limit, reservation, swap, kernelTCP, swappiness, OOM killer (v1 memory.*, v2 memory.*).
#include <string>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"
#include "core/sys/log.hpp"

namespace kiln::cgroups::memory {
namespace {

const std::string kField = "linux.resources.memory";

// Go callers (docker) send 0 for "not set"; runc reads it so, and so do we.
bool set(const std::optional<int64_t>& v) { return v && *v != 0; }

std::string v2_value(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

void check_before_update(const Target& t, const oci::Memory& m) {
    if (!m.check_before_update.value_or(false) || !set(m.limit) || *m.limit < 0) return;
    const char* usage_file = t.version == Version::v1 ? "memory.usage_in_bytes" : "memory.current";
    if (!t.exists(usage_file)) return;
    int64_t usage = std::stoll(t.read(usage_file));
    if (usage > *m.limit)
        throw Error(Errc::failed_precondition, kField + ".limit: " + std::to_string(*m.limit) +
                                                   " is below the current usage of " + std::to_string(usage));
}

void apply_v1(const Target& t, const oci::Memory& m) {
    bool has_memsw = t.exists("memory.memsw.limit_in_bytes");
    if (set(m.swap) && *m.swap != -1 && !has_memsw)
        unsupported(kField + ".swap", "swap accounting is not enabled on this host");
    auto write_limit = [&] {
        if (set(m.limit)) t.write("memory.limit_in_bytes", std::to_string(*m.limit), kField + ".limit");
    };
    auto write_swap = [&] {
        if (set(m.swap) && has_memsw) t.write("memory.memsw.limit_in_bytes", std::to_string(*m.swap), kField + ".swap");
    };
    // memsw must stay >= limit at every step, so the order depends on whether limits grow.
    if (set(m.limit) && set(m.swap)) {
        int64_t current = std::stoll(t.read("memory.limit_in_bytes"));
        if (*m.swap == -1 || current < *m.swap) {
            write_swap();
            write_limit();
        } else {
            write_limit();
            write_swap();
        }
    } else {
        write_limit();
        write_swap();
    }
    if (set(m.reservation)) t.write("memory.soft_limit_in_bytes", std::to_string(*m.reservation), kField + ".reservation");
    if (set(m.kernel)) log::warn("linux.resources.memory.kernel is deprecated by the kernel and ignored");
    if (set(m.kernel_tcp))
        t.write("memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernel_tcp), kField + ".kernelTCP");
    // -1 (as an unsigned 64-bit value) is the "unset" runc accepts.
    if (m.swappiness && *m.swappiness != static_cast<uint64_t>(-1)) {
        if (*m.swappiness > 100) throw Error(Errc::invalid_argument, kField + ".swappiness: must be between 0 and 100");
        t.write("memory.swappiness", std::to_string(*m.swappiness), kField + ".swappiness");
    }
    if (m.disable_oom_killer && *m.disable_oom_killer)
        t.write("memory.oom_control", "1", kField + ".disableOOMKiller");
    if (m.use_hierarchy) t.write("memory.use_hierarchy", *m.use_hierarchy ? "1" : "0", kField + ".useHierarchy");
}

void apply_v2(const Target& t, const oci::Memory& m) {
    if (set(m.swap)) {
        // v1 swap is memory+swap; v2 memory.swap.max is swap alone.
        std::string value;
        if (*m.swap == -1) {
            value = "max";
        } else {
            int64_t limit = m.limit.value_or(0);  // 0: not set
            if (limit == -1) {
                value = "max";
            } else if (limit == 0) {
                throw Error(Errc::invalid_argument, kField + ".swap: a swap limit needs a memory limit");
            } else if (*m.swap < limit) {
                throw Error(Errc::invalid_argument, kField + ".swap: memory+swap must not be below the memory limit");
            } else {
                value = std::to_string(*m.swap - limit);
            }
        }
        if (!t.exists("memory.swap.max")) unsupported(kField + ".swap", "swap accounting is not enabled on this host");
        t.write("memory.swap.max", value, kField + ".swap");
    }
    if (set(m.limit)) t.write("memory.max", v2_value(*m.limit), kField + ".limit");
    if (set(m.reservation)) t.write("memory.low", v2_value(*m.reservation), kField + ".reservation");
    if (set(m.kernel) || set(m.kernel_tcp)) log::warn("kernel memory limits do not exist in cgroup v2 and are ignored");
    if (m.swappiness && *m.swappiness != static_cast<uint64_t>(-1)) unsupported(kField + ".swappiness", "cgroup v2 has no per-cgroup swappiness");
    if (m.disable_oom_killer && *m.disable_oom_killer)
        unsupported(kField + ".disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
}

}  // namespace

bool requested(const oci::Resources& r) {
    if (!r.memory) return false;
    const auto& m = *r.memory;
    return set(m.limit) || set(m.reservation) || set(m.swap) || set(m.kernel) || set(m.kernel_tcp) ||
           (m.swappiness && *m.swappiness != static_cast<uint64_t>(-1)) || m.disable_oom_killer.value_or(false) ||
           m.use_hierarchy;
}

void apply(const Target& t, const oci::Resources& r) {
    check_before_update(t, *r.memory);
    if (t.version == Version::v1) apply_v1(t, *r.memory);
    else apply_v2(t, *r.memory);
}

}  // namespace kiln::cgroups::memory
