// kiln-runtime spec: writes a starting config.json, like `runc spec`.
#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/oci/defaults.hpp"
#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::runtime {

nlohmann::json default_spec(bool rootless) {
    using nlohmann::json;
    json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
    json spec = {
        {"ociVersion", oci::kSpecVersion},
        {"process",
         {{"terminal", true},
          {"user", {{"uid", 0}, {"gid", 0}}},
          {"args", {"sh"}},
          {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
          {"cwd", "/"},
          {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"ambient", caps}}},
          {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
          {"noNewPrivileges", true}}},
        {"root", {{"path", "rootfs"}, {"readonly", true}}},
        {"hostname", "kiln"},
        {"mounts", oci::default_mounts()},
        {"linux",
         {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
          {"namespaces",
           {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}},
            {{"type", "cgroup"}}}},
          {"maskedPaths", oci::default_masked_paths()},
          {"readonlyPaths", oci::default_readonly_paths()}}},
    };
    if (rootless) {
        // As runc: a user namespace mapping root to the caller, no network namespace, and the
        // host's /sys bound instead of a new sysfs.
        uid_t uid = ::getuid();
        gid_t gid = ::getgid();
        json& l = spec["linux"];
        l.erase("resources");
        l["uidMappings"] = {{{"containerID", 0}, {"hostID", uid}, {"size", 1}}};
        l["gidMappings"] = {{{"containerID", 0}, {"hostID", gid}, {"size", 1}}};
        json ns = json::array();
        for (const auto& n : l["namespaces"])
            if (n["type"] != "network" && n["type"] != "cgroup") ns.push_back(n);
        ns.push_back({{"type", "user"}});
        l["namespaces"] = ns;
        json mounts = json::array();
        for (auto m : spec["mounts"]) {
            if (m["destination"] == "/sys/fs/cgroup") continue;
            if (m["destination"] == "/sys") {
                m = {{"destination", "/sys"}, {"type", "none"}, {"source", "/sys"},
                     {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}};
            }
            if (m["destination"] == "/dev/pts") {
                json opts = json::array();
                for (const auto& o : m["options"])
                    if (o != "gid=5") opts.push_back(o);
                m["options"] = opts;
            }
            mounts.push_back(m);
        }
        spec["mounts"] = mounts;
    }
    return spec;
}

void add_spec(CLI::App& app, Globals&) {
    auto* cmd = app.add_subcommand("spec", "write a starting config.json into the bundle");
    struct Args {
        std::string bundle = ".";
        bool rootless = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-b,--bundle", a->bundle, "the bundle directory");
    cmd->add_flag("--rootless", a->rootless, "a config for running as an unprivileged user");
    cmd->callback([a] {
        std::string path = a->bundle + "/config.json";
        if (path_exists(path)) throw Error(Errc::already_exists, "file " + path + " exists: remove it first");
        // O_EXCL: never overwrite a config someone wrote meanwhile.
        Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) throw_sys("create", path);
        write_all(fd.get(), default_spec(a->rootless).dump(4) + "\n", path);
    });
}

}  // namespace kiln::runtime
