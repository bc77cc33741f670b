// kiln-runtime: a runc-compatible OCI runtime over kiln's container layer.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/oci/spec.hpp"
#include "core/runtime/cli.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/log.hpp"

namespace kiln::runtime {
namespace {

FILE* g_log_file = nullptr;
bool g_json = false;

// runc's (logrus) line formats, which containerd and podman read back on failure.
void log_sink(log::Level level, std::string_view message) {
    static const char* names[] = {"debug", "info", "warning", "error"};
    const char* name = names[static_cast<int>(level)];
    FILE* out = g_log_file ? g_log_file : stderr;
    if (g_json) {
        nlohmann::json j = {{"level", name}, {"msg", std::string(message)}, {"time", rfc3339_now()}};
        fprintf(out, "%s\n", j.dump().c_str());
    } else if (g_log_file) {
        nlohmann::json quoted = std::string(message);
        fprintf(out, "time=\"%s\" level=%s msg=%s\n", rfc3339_now().c_str(), name, quoted.dump().c_str());
    } else {
        fprintf(out, "%s: %.*s\n", name, static_cast<int>(message.size()), message.data());
    }
    fflush(out);
}

// Go's flag package takes -name as well as --name; callers written against runc use both.
std::vector<std::string> normalize(int argc, char** argv) {
    static const char* long_names[] = {
        "root", "log", "log-format", "debug", "systemd-cgroup", "version", "bundle", "pid-file",
        "console-socket", "preserve-fds", "no-pivot", "no-new-keyring", "detach", "keep", "all",
        "force", "process", "tty", "cwd", "env", "user", "cap", "no-new-privs", "format", "quiet",
        "resources", "rootless", "additional-gids", "memory", "memory-swap", "memory-reservation",
        "cpu-share", "cpu-period", "cpu-quota", "cpuset-cpus", "cpuset-mems", "pids-limit",
        "blkio-weight", "kernel-memory", "kernel-memory-tcp", "cpu-rt-period", "cpu-rt-runtime",
        "criu", "rootless", "process-label", "apparmor", "ignore-paused", "cgroup"};
    std::vector<std::string> out;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
            std::string name = a.substr(1, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 1);
            for (const char* n : long_names)
                if (name == n) {
                    a = "-" + a;
                    break;
                }
        }
        out.push_back(a);
    }
    return out;
}

// The verb: the first word that is neither a global option nor its value.
std::string verb_of(const std::vector<std::string>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--root" || a == "--log" || a == "--log-format" || a == "--criu" || a == "--rootless") {
            ++i;
            continue;
        }
        if (!a.empty() && a[0] != '-') return a;
    }
    return "";
}

}  // namespace

container::Runtime Globals::open() const { return container::Runtime(root); }

int main(int argc, char** argv) {
    std::vector<std::string> args = normalize(argc, argv);

    CLI::App app{"kiln-runtime: run containers from OCI bundles (runc-compatible)", "kiln-runtime"};
    app.require_subcommand(0, 1);
    Globals g;
    bool version = false;
    app.add_option("--root", g.root, "directory for container state")->capture_default_str();
    app.add_option("--log", g.log, "write log lines to this file (default: stderr)");
    app.add_option("--log-format", g.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
    app.add_flag("--debug", g.debug, "log debug output");
    app.add_flag("--systemd-cgroup", g.systemd_cgroup, "manage cgroups through systemd (not supported)");
    app.add_flag("-v,--version", version, "print the version");
    std::string criu;
    app.add_option("--criu", criu, "ignored (checkpoint/restore is not supported)")->group("");
    std::string rootless;
    app.add_option("--rootless", rootless, "ignored")->group("");

    // Settings that the verbs depend on take effect before any verb runs.
    app.parse_complete_callback([&] {
        g_json = g.log_format == "json";
        if (!g.log.empty()) {
            g_log_file = fopen(g.log.c_str(), "ae");
            if (!g_log_file) throw Error(Errc::invalid_argument, "--log " + g.log + ": " + strerror(errno));
        }
        log::set_sink(log_sink);
        log::set_level(g.debug ? log::Level::debug : log::Level::warn);
        if (g.systemd_cgroup)
            throw Error(Errc::invalid_argument,
                        "--systemd-cgroup: systemd cgroup management is not supported; use the cgroupfs manager");
    });

    // Building every verb's options costs more than a container's cgroups: only the verb asked
    // for is registered, all of them when it is unknown (for help and the error).
    static const std::pair<const char*, void (*)(CLI::App&, Globals&)> verbs[] = {
        {"create", add_create}, {"start", add_start},   {"run", add_run},     {"state", add_state},
        {"kill", add_kill},     {"delete", add_delete}, {"exec", add_exec},   {"list", add_list},
        {"ps", add_ps},         {"pause", add_pause},   {"resume", add_pause}, {"update", add_update},
        {"features", add_features}, {"spec", add_spec},
    };
    std::string verb = verb_of(args);
    bool known = false;
    for (const auto& [name, add] : verbs)
        if (verb == name) {
            add(app, g);
            known = true;
        }
    if (!known)
        for (const auto& [name, add] : verbs)
            if (std::string_view(name) != "resume") add(app, g);

    try {
        std::reverse(args.begin(), args.end());
        app.parse(args);
        if (version) {
            // dockerd reads a "commit:" line; runc prints the same three lines.
            printf("kiln-runtime version %s\ncommit: %s\nspec: %s\n", KILN_VERSION, KILN_VERSION, oci::kSpecVersion);
            return 0;
        }
        if (app.get_subcommands().empty()) {
            fprintf(stderr, "%s", app.help().c_str());
            return 1;
        }
        return g.exit_code;
    } catch (const CLI::CallForHelp&) {
        printf("%s", app.help().c_str());
        return 0;
    } catch (const CLI::ParseError& e) {
        log::error(e.what());
        if (g_log_file) fprintf(stderr, "kiln-runtime: %s\n", e.what());
        return 1;
    } catch (const Error& e) {
        log::error(e.what());
        if (g_log_file) fprintf(stderr, "kiln-runtime: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        log::error(e.what());
        if (g_log_file) fprintf(stderr, "kiln-runtime: %s\n", e.what());
        return 1;
    }
}

}  // namespace kiln::runtime

int main(int argc, char** argv) { return kiln::runtime::main(argc, argv); }
