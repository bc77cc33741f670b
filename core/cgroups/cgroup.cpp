// A container's cgroup across the hierarchies of a v1, v2 or hybrid host.
#include "core/cgroups/cgroup.hpp"

#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sstream>
#include <thread>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::cgroups {
namespace {

// "/a//b/./c" -> "/a/b/c"; refuses "..", which could leave the hierarchy.
std::string clean(const std::string& path, const std::string& field) {
    std::string out;
    std::istringstream in(path);
    std::string part;
    while (std::getline(in, part, '/')) {
        if (part.empty() || part == ".") continue;
        if (part == "..") invalid(field + ": must not contain \"..\": " + path);
        out += "/" + part;
    }
    return out;
}

// The controller table: which spec resources go to which controller, under which v1 and v2
// names. The devices controller of v2 is a BPF program on any cgroup2 directory.
struct ControllerEntry {
    const char* v1;
    const char* v2;  // "": v1 only
    bool v2_any_dir;  // v2 needs no controller: a BPF program attaches to any cgroup2 directory
    const char* field;
    bool (*requested)(const oci::Resources&);
    void (*apply)(const Target&, const oci::Resources&);
};

const ControllerEntry kControllers[] = {
    {"cpuset", "cpuset", false, "linux.resources.cpu.cpus", cpuset::requested, cpuset::apply},
    {"cpu", "cpu", false, "linux.resources.cpu", cpu::requested, cpu::apply},
    {"memory", "memory", false, "linux.resources.memory", memory::requested, memory::apply},
    {"pids", "pids", false, "linux.resources.pids", pids::requested, pids::apply},
    {"blkio", "io", false, "linux.resources.blockIO", blkio::requested, blkio::apply},
    {"hugetlb", "hugetlb", false, "linux.resources.hugepageLimits", hugetlb::requested, hugetlb::apply},
    {"devices", "", true, "linux.resources.devices", devices::requested, devices::apply},
    {"net_cls", "", false, "linux.resources.network.classID", net_cls::requested, net_cls::apply},
    {"net_prio", "", false, "linux.resources.network.priorities", net_prio::requested, net_prio::apply},
    {"rdma", "rdma", false, "linux.resources.rdma", rdma::requested, rdma::apply},
};

std::vector<pid_t> read_pids(const std::string& file) {
    std::vector<pid_t> out;
    auto text = read_file_if_exists(file);
    if (!text) return out;
    std::istringstream in(*text);
    pid_t pid;
    while (in >> pid) out.push_back(pid);
    return out;
}

}  // namespace

Cgroup::Cgroup(Layout layout, const std::string& cgroups_path, const std::string& self_proc_cgroup)
    : layout_(std::move(layout)) {
    std::string field = "linux.cgroupsPath";
    bool absolute = !cgroups_path.empty() && cgroups_path[0] == '/';
    std::string rel = clean(cgroups_path, field);
    if (rel.empty()) invalid(field + ": must name a cgroup below the root, got \"" + cgroups_path + "\"");
    auto self = parse_proc_cgroup(self_proc_cgroup);
    for (size_t i = 0; i < layout_.hierarchies.size(); ++i) {
        const Hierarchy& h = layout_.hierarchies[i];
        std::string base;
        if (!absolute) {
            // Our own cgroup in this hierarchy, seen from the mount's root.
            std::string key = h.version == Version::v2 ? "" : h.proc_key;
            for (const auto& [k, p] : self)
                if (k == key) base = p;
            bool under_root = base.rfind(h.root, 0) == 0 &&
                              (base.size() == h.root.size() || base[h.root.size()] == '/');
            if (h.root != "/" && under_root) base = base.substr(h.root.size());
            base = clean(base, field);
            // A v2 cgroup holding processes cannot delegate controllers to children (no internal
            // processes): below our own cgroup's parent instead, as runc does.
            if (h.version == Version::v2) {
                auto slash = base.find_last_of('/');
                base = slash == std::string::npos ? "" : base.substr(0, slash);
            }
        }
        std::string r = base + rel;
        dirs_.push_back({i, h.mount_point + r, r});
    }
}

Cgroup Cgroup::from_paths(Layout layout, const std::vector<std::string>& paths) {
    Cgroup cg;
    cg.layout_ = std::move(layout);
    for (const auto& p : paths) {
        for (size_t i = 0; i < cg.layout_.hierarchies.size(); ++i) {
            const std::string& mp = cg.layout_.hierarchies[i].mount_point;
            if (p.size() > mp.size() && p.compare(0, mp.size(), mp) == 0 && p[mp.size()] == '/') {
                cg.dirs_.push_back({i, p, p.substr(mp.size())});
                break;
            }
        }
    }
    return cg;
}

std::vector<std::string> Cgroup::paths() const {
    std::vector<std::string> out;
    for (const auto& d : dirs_) out.push_back(d.path);
    return out;
}

const Cgroup::Dir* Cgroup::dir_for(const Hierarchy* h) const {
    for (const auto& d : dirs_)
        if (&layout_.hierarchies[d.hierarchy] == h) return &d;
    return nullptr;
}

std::vector<std::string> Cgroup::create(std::optional<Version> only) {
    std::vector<std::string> made;
    try {
        for (const auto& d : dirs_) {
            const Hierarchy& h = layout_.hierarchies[d.hierarchy];
            if (only && h.version != *only) continue;
            // Walk down from the mount point so each level we make can be prepared and undone.
            std::string cur = h.mount_point;
            std::istringstream in(d.rel);
            std::string part;
            while (std::getline(in, part, '/')) {
                if (part.empty()) continue;
                std::string parent = cur;
                cur += "/" + part;
                if (::mkdir(cur.c_str(), 0755) == 0) made.push_back(cur);
                else if (errno != EEXIST) throw_sys("mkdir", cur);
                // Also when it exists: whoever made it at the same moment (a parent shared by
                // pods created side by side) may not have filled it yet, and a task cannot join
                // an empty cpuset.
                if (h.version == Version::v1 && h.has("cpuset")) cpuset::init_v1(parent, cur);
            }
        }
    } catch (...) {
        remove_dirs(made);
        throw;
    }
    return made;
}

void remove_dirs(const std::vector<std::string>& made) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
}

void Cgroup::enable_v2_controller(const Dir& dir, const std::string& controller) {
    // Each ancestor of the container's cgroup must delegate the controller to its children.
    const Hierarchy& h = layout_.hierarchies[dir.hierarchy];
    std::string cur = h.mount_point;
    std::istringstream in(dir.rel);
    std::string part;
    std::vector<std::string> levels = {cur};
    while (std::getline(in, part, '/'))
        if (!part.empty()) levels.push_back(cur += "/" + part);
    levels.pop_back();
    for (const auto& level : levels) {
        std::string file = level + "/cgroup.subtree_control";
        auto enabled_text = read_file_if_exists(file);
        if (!enabled_text)
            throw Error(Errc::failed_precondition,
                        "cannot delegate the " + controller + " controller: " + file + " does not exist");
        std::string enabled = *enabled_text;
        std::istringstream words(enabled);
        std::string w;
        bool on = false;
        while (words >> w) on = on || w == controller;
        if (on) continue;
        try {
            write_existing(file, "+" + controller);
        } catch (const SysError& e) {
            throw Error(Errc::failed_precondition,
                        "cannot delegate the " + controller + " controller: " + std::string(e.what()));
        }
    }
}

void Cgroup::apply(const oci::Resources& r) {
    for (const auto& c : kControllers) {
        if (!c.requested(r)) continue;
        const Hierarchy* h = layout_.find(c.v1, c.v2);
        if (!h && c.v2_any_dir) h = layout_.unified();
        const Dir* d = h ? dir_for(h) : nullptr;
        if (!d) unsupported(c.field, std::string("the ") + c.v1 + " controller is not available on this host");
        if (h->version == Version::v2 && *c.v2) enable_v2_controller(*d, c.v2);
        c.apply(Target{h->version, d->path}, r);
    }
    if (unified::requested(r)) {
        const Hierarchy* u = layout_.unified();
        const Dir* d = u ? dir_for(u) : nullptr;
        if (!d) unsupported("linux.resources.unified", "this host has no cgroup v2 hierarchy");
        for (const auto& [key, value] : r.unified) {
            std::string controller = key.substr(0, key.find('.'));
            if (u->has(controller)) enable_v2_controller(*d, controller);
        }
        unified::apply(Target{Version::v2, d->path}, r);
    }
}

void Cgroup::add_process(pid_t pid) {
    std::string value = std::to_string(pid);
    for (const auto& d : dirs_) write_existing(d.path + "/cgroup.procs", value);
}

Cgroup::JoinFds Cgroup::open_for_join() const {
    JoinFds out;
    for (const auto& d : dirs_) {
        if (layout_.hierarchies[d.hierarchy].version == Version::v2) {
            out.v2_dir = open_file(d.path, O_RDONLY | O_DIRECTORY);
        } else {
            out.v1_tasks.push_back(open_file(d.path + "/tasks", O_WRONLY));
        }
    }
    return out;
}

Fd Cgroup::open_v2_dir() const {
    for (const auto& d : dirs_)
        if (layout_.hierarchies[d.hierarchy].version == Version::v2) return open_file(d.path, O_RDONLY | O_DIRECTORY);
    return Fd();
}

void Cgroup::freeze() {
    const Hierarchy* h = layout_.find("freezer", "");
    if (const Dir* d = h ? dir_for(h) : nullptr) {
        write_existing(d->path + "/freezer.state", "FROZEN");
        // FREEZING until every task has stopped.
        for (int i = 0; i < 1000; ++i) {
            std::string state = read_file(d->path + "/freezer.state");
            if (state.rfind("FROZEN", 0) == 0) return;
            if (i % 10 == 9) write_existing(d->path + "/freezer.state", "FROZEN");
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        // Half frozen is worse than not frozen: thaw and say so.
        write_existing(d->path + "/freezer.state", "THAWED");
        throw Error(Errc::internal, "timed out freezing " + d->path);
    }
    const Dir* d = layout_.unified() ? dir_for(layout_.unified()) : nullptr;
    if (!d) precondition("pausing needs the freezer controller, which this host lacks");
    write_existing(d->path + "/cgroup.freeze", "1");
    for (int i = 0; i < 1000; ++i) {
        if (frozen()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    write_existing(d->path + "/cgroup.freeze", "0");
    throw Error(Errc::internal, "timed out freezing " + d->path);
}

void Cgroup::thaw() {
    const Hierarchy* h = layout_.find("freezer", "");
    if (const Dir* d = h ? dir_for(h) : nullptr) {
        write_existing(d->path + "/freezer.state", "THAWED");
        return;
    }
    const Dir* d = layout_.unified() ? dir_for(layout_.unified()) : nullptr;
    if (!d) precondition("resuming needs the freezer controller, which this host lacks");
    write_existing(d->path + "/cgroup.freeze", "0");
}

bool Cgroup::frozen() const {
    const Hierarchy* h = layout_.find("freezer", "");
    if (const Dir* d = h ? dir_for(h) : nullptr) {
        auto state = read_file_if_exists(d->path + "/freezer.state");
        return state && state->rfind("FROZEN", 0) == 0;
    }
    const Dir* d = layout_.unified() ? dir_for(layout_.unified()) : nullptr;
    if (!d) return false;
    auto events = read_file_if_exists(d->path + "/cgroup.events");
    return events && events->find("frozen 1") != std::string::npos;
}

std::vector<pid_t> Cgroup::pids() const {
    // Any hierarchy holds every process; v2 and the pids controller are the usual ones.
    const Hierarchy* h = layout_.unified();
    if (!h) h = layout_.find("pids");
    const Dir* d = h ? dir_for(h) : nullptr;
    if (!d && !dirs_.empty()) d = &dirs_.front();
    if (!d) return {};
    return read_pids(d->path + "/cgroup.procs");
}

bool Cgroup::populated(std::optional<Version> only, const std::vector<std::string>& fresh) const {
    for (const auto& d : dirs_) {
        if (only && layout_.hierarchies[d.hierarchy].version != *only) continue;
        if (std::find(fresh.begin(), fresh.end(), d.path) != fresh.end()) continue;
        if (!read_pids(d.path + "/cgroup.procs").empty()) return true;
    }
    return false;
}

void Cgroup::signal_all(int sig) {
    const Dir* u = layout_.unified() ? dir_for(layout_.unified()) : nullptr;
    if (sig == SIGKILL && u && path_exists(u->path + "/cgroup.kill")) {
        write_existing(u->path + "/cgroup.kill", "1");
        return;
    }
    bool can_freeze = layout_.find("freezer", "") || u;
    bool was_frozen = can_freeze && frozen();
    if (can_freeze && !was_frozen) freeze();
    for (pid_t pid : pids()) ::kill(pid, sig);
    if (can_freeze && !was_frozen) thaw();
}

namespace {

// rmdir of a cgroup and, first, of every cgroup below it (a container may make its own).
// Returns 0 or the errno of the first failure.
int remove_tree(const std::string& path) {
    // Most cgroups have nothing below them: the directory is read only when rmdir says it is busy.
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return 0;
    if (errno != EBUSY) return errno;
    int first_error = 0;
    if (DIR* d = ::opendir(path.c_str())) {
        while (struct dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (e->d_type != DT_DIR || name == "." || name == "..") continue;
            int err = remove_tree(path + "/" + name);
            if (err && !first_error) first_error = err;
        }
        ::closedir(d);
    }
    for (int attempt = 0;; ++attempt) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return first_error;
        // Tasks that just exited stay accounted for a moment.
        if (errno != EBUSY || attempt >= 200) return first_error ? first_error : errno;
        std::this_thread::sleep_for(std::chrono::milliseconds(attempt < 10 ? 1 : 10));
    }
}

}  // namespace

void Cgroup::destroy() {
    // Every hierarchy is tried; the first failure is reported after.
    std::string failed;
    int err = 0;
    for (const auto& d : dirs_) {
        int e = remove_tree(d.path);
        if (e && !err) {
            err = e;
            failed = d.path;
        }
    }
    if (err) throw_sys(err, "rmdir", failed);
}

Stats Cgroup::stats() const {
    Stats s;
    auto number = [](const std::string& file) -> std::optional<uint64_t> {
        auto text = read_file_if_exists(file);
        if (!text || text->empty()) return std::nullopt;
        if (text->rfind("max", 0) == 0) return std::nullopt;
        return std::stoull(*text);
    };
    if (const Hierarchy* h = layout_.find("cpuacct", "cpu")) {
        const Dir* d = dir_for(h);
        if (d && h->version == Version::v1) {
            s.cpu_usage_ns = number(d->path + "/cpuacct.usage").value_or(0);
        } else if (d) {
            auto text = read_file_if_exists(d->path + "/cpu.stat");
            std::istringstream in(text.value_or(""));
            std::string key;
            uint64_t v;
            while (in >> key >> v)
                if (key == "usage_usec") s.cpu_usage_ns = v * 1000;
        }
    }
    if (const Hierarchy* h = layout_.find("memory")) {
        if (const Dir* d = dir_for(h)) {
            bool v1 = h->version == Version::v1;
            s.memory_usage = number(d->path + (v1 ? "/memory.usage_in_bytes" : "/memory.current")).value_or(0);
            s.memory_limit = number(d->path + (v1 ? "/memory.limit_in_bytes" : "/memory.max"));
            // v1 reports "no limit" as a page-rounded LONG_MAX.
            if (v1 && s.memory_limit && *s.memory_limit >= (1ULL << 62)) s.memory_limit.reset();
        }
    }
    if (const Hierarchy* h = layout_.find("pids")) {
        if (const Dir* d = dir_for(h)) {
            s.pids_current = number(d->path + "/pids.current").value_or(0);
            s.pids_limit = number(d->path + "/pids.max");
        }
    }
    return s;
}

}  // namespace kiln::cgroups
