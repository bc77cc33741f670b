// Detection of the host's cgroup layout from mountinfo.
#include "core/cgroups/layout.hpp"

#include <algorithm>
#include <sstream>

#include "core/sys/file.hpp"

namespace kiln::cgroups {

bool Hierarchy::has(const std::string& controller) const {
    return std::find(controllers.begin(), controllers.end(), controller) != controllers.end();
}

const Hierarchy* Layout::find(const std::string& v1_name, const std::string& v2_name) const {
    for (const auto& h : hierarchies)
        if (h.version == Version::v1 && h.has(v1_name)) return &h;
    const Hierarchy* u = unified();
    if (u && !v2_name.empty() && u->has(v2_name)) return u;
    return nullptr;
}

const Hierarchy* Layout::unified() const {
    for (const auto& h : hierarchies)
        if (h.version == Version::v2) return &h;
    return nullptr;
}

static std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::string cur;
    std::istringstream in(s);
    while (std::getline(in, cur, sep))
        if (!cur.empty()) out.push_back(cur);
    return out;
}

Layout detect_layout(const std::vector<MountInfo>& mounts) {
    Layout layout;
    bool any_v1 = false;
    for (const auto& m : mounts) {
        if (m.fstype == "cgroup") {
            Hierarchy h;
            h.version = Version::v1;
            h.mount_point = m.mount_point;
            h.root = m.root;
            std::vector<std::string> keys;
            for (const auto& opt : split(m.super_options, ',')) {
                if (opt.rfind("name=", 0) == 0) {
                    h.name = opt.substr(5);
                    keys.push_back(opt);
                } else if (opt != "rw" && opt != "ro" && opt.find('=') == std::string::npos &&
                           opt != "clone_children" && opt != "noprefix" && opt != "xattr" &&
                           opt != "cpuset_v2_mode" && opt != "favordynmods") {
                    h.controllers.push_back(opt);
                    keys.push_back(opt);
                }
            }
            // Skip a second mount of a hierarchy we already know (bind mounts inside containers).
            bool dup = std::any_of(layout.hierarchies.begin(), layout.hierarchies.end(),
                                   [&](const Hierarchy& o) { return o.version == Version::v1 && o.controllers == h.controllers && o.name == h.name; });
            if (dup) continue;
            // /proc/<pid>/cgroup names a hierarchy by its controllers in the kernel's order,
            // which is the order of the mount options.
            for (size_t i = 0; i < keys.size(); ++i) h.proc_key += (i ? "," : "") + keys[i];
            layout.hierarchies.push_back(std::move(h));
            any_v1 = true;
        } else if (m.fstype == "cgroup2") {
            if (layout.unified()) continue;
            Hierarchy h;
            h.version = Version::v2;
            h.mount_point = m.mount_point;
            h.root = m.root;
            auto text = read_file_if_exists(m.mount_point + "/cgroup.controllers");
            if (text) {
                if (!text->empty() && text->back() == '\n') text->pop_back();
                h.controllers = split(*text, ' ');
            }
            layout.hierarchies.push_back(std::move(h));
        }
    }
    bool has_v2 = layout.unified() != nullptr;
    layout.mode = any_v1 ? (has_v2 ? Mode::hybrid : Mode::legacy) : Mode::unified;
    return layout;
}

Layout detect_layout() { return detect_layout(read_mountinfo()); }

const Layout& host_layout() {
    static const Layout layout = detect_layout();
    return layout;
}

std::vector<std::pair<std::string, std::string>> parse_proc_cgroup(const std::string& text) {
    std::vector<std::pair<std::string, std::string>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto a = line.find(':');
        if (a == std::string::npos) continue;
        auto b = line.find(':', a + 1);
        if (b == std::string::npos) continue;
        out.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
    }
    return out;
}

}  // namespace kiln::cgroups
