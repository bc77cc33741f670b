// The mount option words runc accepts, mapped to mount(2) and mount_setattr(2).
#include "core/container/mount_options.hpp"

#include <linux/mount.h>
#include <sys/mount.h>

#include <string_view>

#include "core/sys/error.hpp"

namespace kiln::container {
namespace {

struct FlagOption {
    std::string_view name;
    bool clear;  // the option turns the flag off
    unsigned long flag;
};

constexpr FlagOption kFlags[] = {
    {"async", true, MS_SYNCHRONOUS},
    {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},
    {"defaults", false, 0},
    {"dev", true, MS_NODEV},
    {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},
    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},
    {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC},
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

struct PropagationOption {
    std::string_view name;
    unsigned long flags;
};

constexpr PropagationOption kPropagation[] = {
    {"private", MS_PRIVATE},          {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},            {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},              {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE},    {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct RecursiveOption {
    std::string_view name;
    bool clear;
    uint64_t attr;
};

// runc's recursive mount attributes (mount_setattr with AT_RECURSIVE).
constexpr RecursiveOption kRecursive[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},         {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},     {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},       {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},     {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME}, {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},   {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME}, {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW}, {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

}  // namespace

MountOptions parse_mount_options(const std::vector<std::string>& options, const std::string& field) {
    MountOptions out;
    for (size_t i = 0; i < options.size(); ++i) {
        const std::string& o = options[i];
        if (o.empty()) invalid(field + "[" + std::to_string(i) + "]: empty mount option");
        bool matched = false;
        for (const auto& f : kFlags) {
            if (f.name != o) continue;
            matched = true;
            if (f.clear) {
                out.flags &= ~f.flag;
                out.clear |= f.flag;
            } else {
                // noatime, relatime and strictatime are one setting: the last one wins.
                constexpr unsigned long atime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;
                if (f.flag & atime) out.flags &= ~atime;
                out.flags |= f.flag;
                out.clear &= ~f.flag;
            }
            if (f.flag & MS_BIND) {
                out.bind = true;
                out.recursive = out.recursive || (f.flag & MS_REC);
            }
        }
        for (const auto& p : kPropagation)
            if (p.name == o) {
                out.propagation.push_back(p.flags);
                matched = true;
            }
        for (const auto& r : kRecursive) {
            if (r.name != o) continue;
            matched = true;
            bool atime = r.name.find("atime") != std::string_view::npos && r.name.find("diratime") == std::string_view::npos;
            if (atime) {
                // The atime mode is one field: mount_setattr changes it only with the whole
                // field in attr_clr, and takes the new mode from attr_set (relatime is 0).
                out.attr_clr |= MOUNT_ATTR__ATIME;
                out.attr_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
                if (!r.clear) out.attr_set |= r.attr;
            } else if (r.clear) {
                out.attr_clr |= r.attr;
                out.attr_set &= ~r.attr;
            } else {
                out.attr_set |= r.attr;
                out.attr_clr &= ~r.attr;
            }
        }
        if (o == "idmap" || o == "ridmap") {
            out.idmap = true;
            out.idmap_recursive = o == "ridmap";
            matched = true;
        } else if (o == "tmpcopyup") {
            out.tmpcopyup = true;
            matched = true;
        }
        if (!matched) {
            if (!out.data.empty()) out.data += ",";
            out.data += o;
        }
    }
    return out;
}

std::vector<std::string> known_mount_options() {
    std::vector<std::string> out;
    for (const auto& f : kFlags) out.emplace_back(f.name);
    for (const auto& p : kPropagation) out.emplace_back(p.name);
    for (const auto& r : kRecursive) out.emplace_back(r.name);
    out.emplace_back("idmap");
    out.emplace_back("ridmap");
    out.emplace_back("tmpcopyup");
    return out;
}

}  // namespace kiln::container
