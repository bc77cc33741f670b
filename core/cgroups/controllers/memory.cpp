// memory: limit, reservation, swap, kernelTCP, swappiness, OOM killer (v1 memory.*, v2 memory.*).
#include <string>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"
#include "core/sys/log.hpp"

namespace kiln::cgroups::memory {
namespace {

const std::string kField = "linux.resources.memory";

std::string v2_value(int64_t v) { return v < 0 ? "max" : std::to_string(v); }

void check_before_update(const Target& t, const oci::Memory& m) {
    if (!m.check_before_update.value_or(false) || !m.limit || *m.limit < 0) return;
    const char* usage_file = t.version == Version::v1 ? "memory.usage_in_bytes" : "memory.current";
    if (!t.exists(usage_file)) return;
    int64_t usage = std::stoll(t.read(usage_file));
    if (usage > *m.limit)
        throw Error(Errc::failed_precondition, kField + ".limit: " + std::to_string(*m.limit) +
                                                   " is below the current usage of " + std::to_string(usage));
}

void apply_v1(const Target& t, const oci::Memory& m) {
    bool has_memsw = t.exists("memory.memsw.limit_in_bytes");
    if (m.swap && *m.swap != -1 && !has_memsw)
        unsupported(kField + ".swap", "swap accounting is not enabled on this host");
    auto write_limit = [&] {
        if (m.limit) t.write("memory.limit_in_bytes", std::to_string(*m.limit), kField + ".limit");
    };
    auto write_swap = [&] {
        if (m.swap && has_memsw) t.write("memory.memsw.limit_in_bytes", std::to_string(*m.swap), kField + ".swap");
    };
    // memsw must stay >= limit at every step, so the order depends on whether limits grow.
    if (m.limit && m.swap) {
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
    if (m.reservation) t.write("memory.soft_limit_in_bytes", std::to_string(*m.reservation), kField + ".reservation");
    if (m.kernel) log::warn("linux.resources.memory.kernel is deprecated by the kernel and ignored");
    if (m.kernel_tcp)
        t.write("memory.kmem.tcp.limit_in_bytes", std::to_string(*m.kernel_tcp), kField + ".kernelTCP");
    if (m.swappiness) {
        if (*m.swappiness > 100) throw Error(Errc::invalid_argument, kField + ".swappiness: must be between 0 and 100");
        t.write("memory.swappiness", std::to_string(*m.swappiness), kField + ".swappiness");
    }
    if (m.disable_oom_killer && *m.disable_oom_killer)
        t.write("memory.oom_control", "1", kField + ".disableOOMKiller");
    if (m.use_hierarchy) t.write("memory.use_hierarchy", *m.use_hierarchy ? "1" : "0", kField + ".useHierarchy");
}

void apply_v2(const Target& t, const oci::Memory& m) {
    if (m.swap && *m.swap != 0) {
        // v1 swap is memory+swap; v2 memory.swap.max is swap alone.
        std::string value;
        if (*m.swap == -1) {
            value = "max";
        } else {
            int64_t limit = m.limit.value_or(0);
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
    if (m.limit) t.write("memory.max", v2_value(*m.limit), kField + ".limit");
    if (m.reservation) t.write("memory.low", v2_value(*m.reservation), kField + ".reservation");
    if (m.kernel || m.kernel_tcp) log::warn("kernel memory limits do not exist in cgroup v2 and are ignored");
    if (m.swappiness) unsupported(kField + ".swappiness", "cgroup v2 has no per-cgroup swappiness");
    if (m.disable_oom_killer && *m.disable_oom_killer)
        unsupported(kField + ".disableOOMKiller", "cgroup v2 cannot disable the OOM killer");
}

}  // namespace

bool requested(const oci::Resources& r) {
    if (!r.memory) return false;
    const auto& m = *r.memory;
    return m.limit || m.reservation || m.swap || m.kernel || m.kernel_tcp || m.swappiness ||
           m.disable_oom_killer || m.use_hierarchy;
}

void apply(const Target& t, const oci::Resources& r) {
    check_before_update(t, *r.memory);
    if (t.version == Version::v1) apply_v1(t, *r.memory);
    else apply_v2(t, *r.memory);
}

}  // namespace kiln::cgroups::memory
