// OCI configs for a pod's app containers.
#include "core/daemon/bundle.hpp"

#include <fcntl.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/oci/defaults.hpp"
#include "core/oci/spec.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::daemon {
namespace {

using json = nlohmann::json;

constexpr const char* kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Docker's default capability set: what most images expect to run with.
const std::vector<std::string>& default_capabilities() {
    static const std::vector<std::string> caps = {
        "CAP_CHOWN",  "CAP_DAC_OVERRIDE",     "CAP_FSETID",   "CAP_FOWNER", "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID",          "CAP_SETUID",   "CAP_SETFCAP", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};
    return caps;
}

std::string ns_path(pid_t pid, const char* ns) { return "/proc/" + std::to_string(pid) + "/ns/" + ns; }

// Reads a file of the image, resolving every link inside the rootfs: an image's /etc/passwd may
// be a symlink, and it must not lead kilnd to a host file.
std::string read_in_root(const std::string& rootfs, const std::string& rel) {
    Fd root = open_file(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    Fd fd(sys::openat2(root.get(), rel.c_str(), &how));
    if (!fd) return {};
    return read_fd(fd.get());
}

// The colon-separated records of a passwd- or group-format file.
std::vector<std::vector<std::string>> records(const std::string& text) {
    std::vector<std::vector<std::string>> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<std::string> f;
        std::string field;
        std::istringstream ls(line);
        while (std::getline(ls, field, ':')) f.push_back(field);
        out.push_back(std::move(f));
    }
    return out;
}

// Looks `name` up in a passwd- or group-format file; returns fields[2] and fields[3].
bool lookup(const std::string& text, const std::string& name, long* id, long* gid) {
    for (const auto& f : records(text)) {
        if (f.size() < 3 || f[0] != name) continue;
        try {
            *id = std::stol(f[2]);
            if (gid && f.size() > 3) *gid = std::stol(f[3]);
        } catch (...) {
            return false;
        }
        return true;
    }
    return false;
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

std::vector<std::string> container_args(const ImageDefaults& image, const ContainerSpec& c) {
    std::vector<std::string> args;
    if (!c.command.empty()) {
        args = c.command;
        args.insert(args.end(), c.args.begin(), c.args.end());
    } else {
        args = image.entrypoint;
        const auto& rest = c.args.empty() ? image.cmd : c.args;
        args.insert(args.end(), rest.begin(), rest.end());
    }
    if (args.empty())
        invalid("containers." + c.name + ": no command: the image has no Entrypoint or Cmd and the pod gives none");
    return args;
}

std::pair<uid_t, gid_t> resolve_user(const std::string& user, const std::string& rootfs) {
    if (user.empty()) return {0, 0};
    std::string u = user, g;
    if (auto colon = user.find(':'); colon != std::string::npos) {
        u = user.substr(0, colon);
        g = user.substr(colon + 1);
    }
    long uid = 0, gid = 0;
    bool gid_known = false;
    if (all_digits(u)) {
        uid = std::stol(u);
        // A numeric uid takes its primary group from passwd when the image lists it.
        for (const auto& f : records(read_in_root(rootfs, "etc/passwd"))) {
            if (f.size() > 3 && f[2] == u && all_digits(f[3])) {
                gid = std::stol(f[3]);
                gid_known = true;
                break;
            }
        }
    } else if (lookup(read_in_root(rootfs, "etc/passwd"), u, &uid, &gid)) {
        gid_known = true;
    } else {
        invalid("user \"" + user + "\": no user \"" + u + "\" in the image's /etc/passwd");
    }
    if (!g.empty()) {
        if (all_digits(g)) gid = std::stol(g);
        else if (!lookup(read_in_root(rootfs, "etc/group"), g, &gid, nullptr))
            invalid("user \"" + user + "\": no group \"" + g + "\" in the image's /etc/group");
    } else if (!gid_known) {
        gid = 0;
    }
    return {static_cast<uid_t>(uid), static_cast<gid_t>(gid)};
}

json container_config(const ContainerParams& p) {
    const PodSpec& pod = *p.pod;
    const ContainerSpec& c = *p.container;
    auto [uid, gid] = resolve_user(c.user.empty() ? p.image.user : c.user, p.rootfs);

    std::vector<std::string> env;
    bool has_path = false;
    auto add_env = [&](const std::string& kv) {
        auto key = kv.substr(0, kv.find('='));
        for (auto& e : env)
            if (e.substr(0, e.find('=')) == key) {
                e = kv;
                return;
            }
        env.push_back(kv);
    };
    for (const auto& e : p.image.env) add_env(e);
    for (const auto& e : env)
        if (e.rfind("PATH=", 0) == 0) has_path = true;
    if (!has_path) env.insert(env.begin(), kDefaultPath);
    add_env("HOSTNAME=" + (pod.hostname.empty() ? pod.name : pod.hostname));
    if (c.tty) add_env("TERM=xterm");
    for (const auto& e : c.env) add_env(e);

    std::string cwd = !c.working_dir.empty() ? c.working_dir : (!p.image.working_dir.empty() ? p.image.working_dir : "/");
    json caps = default_capabilities();
    json process = {
        {"terminal", c.tty},
        {"user", {{"uid", uid}, {"gid", gid}}},
        {"args", container_args(p.image, c)},
        {"env", env},
        {"cwd", cwd},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"noNewPrivileges", false},
    };
    if (uid != 0) process["capabilities"] = {{"bounding", caps}};

    json mounts = oci::default_mounts();
    // The pod's own /etc files, unless a volume takes their place.
    for (const auto& [file, destination] : {std::pair{p.resolv_conf, "/etc/resolv.conf"}, std::pair{p.hosts, "/etc/hosts"}})
        if (!file.empty() && std::none_of(c.volume_mounts.begin(), c.volume_mounts.end(),
                                          [&](const VolumeMount& vm) { return vm.path == destination; }))
            mounts.push_back({{"destination", destination},
                              {"type", "bind"},
                              {"source", file},
                              {"options", {"bind", "rprivate", "nosuid", "nodev", "noexec"}}});
    for (const auto& vm : c.volume_mounts) {
        std::string source;
        bool ro = vm.read_only;
        for (const auto& [name, dir] : p.volume_dirs)
            if (name == vm.name) source = dir;
        for (const auto& v : pod.volumes)
            if (v.name == vm.name && v.kind == Volume::Kind::host && v.read_only) ro = true;
        if (source.empty()) invalid("containers." + c.name + ".volumeMounts: no volume \"" + vm.name + "\"");
        json opts = {"rbind", "rprivate"};
        if (ro) opts.push_back("ro");
        // Without mappings of its own the mount follows the user namespace the container joins.
        if (std::find(p.idmapped_volumes.begin(), p.idmapped_volumes.end(), vm.name) != p.idmapped_volumes.end())
            opts.push_back("idmap");
        mounts.push_back({{"destination", vm.path}, {"type", "bind"}, {"source", source}, {"options", opts}});
    }

    json ns = json::array({{{"type", "mount"}}, {{"type", "cgroup"}},
                           {{"type", "ipc"}, {"path", ns_path(p.sandbox_pid, "ipc")}},
                           {{"type", "uts"}, {"path", ns_path(p.sandbox_pid, "uts")}}});
    if (!pod.host_network()) ns.push_back({{"type", "network"}, {"path", ns_path(p.sandbox_pid, "net")}});
    if (p.sandbox_userns) ns.push_back({{"type", "user"}, {"path", ns_path(p.sandbox_pid, "user")}});
    if (pod.share_pid) ns.push_back({{"type", "pid"}, {"path", ns_path(p.sandbox_pid, "pid")}});
    else ns.push_back({{"type", "pid"}});

    json resources = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    if (c.resources.memory) resources["memory"] = {{"limit", *c.resources.memory}};
    if (c.resources.cpus) {
        constexpr std::int64_t period = 100000;
        resources["cpu"] = {{"quota", static_cast<std::int64_t>(std::llround(*c.resources.cpus * period))},
                            {"period", period}};
    }
    if (c.resources.pids) resources["pids"] = {{"limit", *c.resources.pids}};

    return {
        {"ociVersion", oci::kSpecVersion},
        {"process", process},
        {"root", {{"path", p.rootfs}, {"readonly", false}}},
        {"mounts", mounts},
        {"annotations", {{"io.kiln.pod", pod.name}, {"io.kiln.container", c.name}}},
        {"linux",
         {{"namespaces", ns},
          {"cgroupsPath", p.cgroups_path},
          {"resources", resources},
          {"maskedPaths", oci::default_masked_paths()},
          {"readonlyPaths", oci::default_readonly_paths()}}},
    };
}

}  // namespace kiln::daemon
