// Name tables of the runtime spec.
#include "core/oci/names.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <utility>

namespace kiln::oci {
namespace {

// Indexed by capability number (linux/capability.h).
constexpr std::array<std::string_view, 41> kCapabilities = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",    "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",            "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",         "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",       "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",        "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",     "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",       "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",      "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

constexpr std::array<std::pair<std::string_view, int>, 16> kRlimits = {{
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
}};

struct NamespaceName {
    std::string_view type;
    std::string_view proc;
    int flag;
};

// Join order: user first (it decides what the others may do), mount last (so /proc paths of
// the other namespaces resolve in the caller's mount namespace).
constexpr std::array<NamespaceName, 8> kNamespaces = {{
    {"user", "user", CLONE_NEWUSER},
    {"pid", "pid", CLONE_NEWPID},
    {"network", "net", CLONE_NEWNET},
    {"ipc", "ipc", CLONE_NEWIPC},
    {"uts", "uts", CLONE_NEWUTS},
    {"cgroup", "cgroup", CLONE_NEWCGROUP},
    {"time", "time", kCloneNewTime},
    {"mount", "mnt", CLONE_NEWNS},
}};

}  // namespace

std::optional<int> capability_number(std::string_view name) {
    for (size_t i = 0; i < kCapabilities.size(); ++i)
        if (kCapabilities[i] == name) return static_cast<int>(i);
    return std::nullopt;
}

std::string_view capability_name(int number) {
    if (number < 0 || static_cast<size_t>(number) >= kCapabilities.size()) return {};
    return kCapabilities[static_cast<size_t>(number)];
}

std::vector<std::string> all_capability_names() { return {kCapabilities.begin(), kCapabilities.end()}; }

int last_known_capability() { return static_cast<int>(kCapabilities.size()) - 1; }

std::optional<int> rlimit_number(std::string_view name) {
    for (const auto& [n, v] : kRlimits)
        if (n == name) return v;
    return std::nullopt;
}

std::vector<std::string> all_rlimit_names() {
    std::vector<std::string> out;
    for (const auto& r : kRlimits) out.emplace_back(r.first);
    return out;
}

std::optional<int> namespace_flag(std::string_view type) {
    for (const auto& ns : kNamespaces)
        if (ns.type == type) return ns.flag;
    return std::nullopt;
}

std::string_view namespace_proc_name(std::string_view type) {
    for (const auto& ns : kNamespaces)
        if (ns.type == type) return ns.proc;
    return {};
}

const std::vector<std::string>& namespace_types() {
    static const std::vector<std::string> types = [] {
        std::vector<std::string> out;
        for (const auto& ns : kNamespaces) out.emplace_back(ns.type);
        return out;
    }();
    return types;
}

}  // namespace kiln::oci
