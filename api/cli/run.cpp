// kiln run [-d] [--rm] [--name N] [-e K=V] [-v SRC:DST[:ro]] [--memory 32m] [--cpus 0.5]
//          [--network none|host|NAME]... [-p [IP:]HOST:CONTAINER[/PROTO]]... [-t] [-i] IMAGE [CMD...]
// A pod of one container named after the pod. Without -d it streams the output (or attaches
// with -i/-t) and exits with the container's exit code.
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <iostream>
#include <random>
#include <thread>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {
namespace {

std::string generated_name(const std::string& image) {
    std::string base = image.substr(image.find_last_of('/') == std::string::npos ? 0 : image.find_last_of('/') + 1);
    base = base.substr(0, base.find_first_of(":@"));
    std::string name;
    for (char c : base) {
        char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        name += (std::isalnum(static_cast<unsigned char>(l)) ? l : '-');
    }
    while (!name.empty() && name.front() == '-') name.erase(0, 1);
    if (name.empty()) name = "pod";
    name = name.substr(0, 50);
    std::random_device rd;
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%06x", rd() & 0xffffff);
    return name + "-" + suffix;
}

}  // namespace

// -p [HOSTIP:]HOSTPORT:CONTAINERPORT[/PROTO], as Docker and podman take it.
nlohmann::json parse_publish(const std::string& text) {
    auto fail = [&](const std::string& why) { invalid("--publish \"" + text + "\": " + why); };
    std::string spec = text, protocol = "tcp";
    if (auto slash = spec.rfind('/'); slash != std::string::npos) {
        protocol = spec.substr(slash + 1);
        spec = spec.substr(0, slash);
        if (protocol != "tcp" && protocol != "udp") fail("the protocol must be tcp or udp");
    }
    auto last = spec.rfind(':');
    if (last == std::string::npos) fail("must be [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]");
    std::string container = spec.substr(last + 1), rest = spec.substr(0, last), host_ip;
    if (auto colon = rest.rfind(':'); colon != std::string::npos) {
        host_ip = rest.substr(0, colon);
        rest = rest.substr(colon + 1);
        if (host_ip.size() > 1 && host_ip.front() == '[' && host_ip.back() == ']') host_ip = host_ip.substr(1, host_ip.size() - 2);
    }
    auto port = [&](const std::string& s, const char* which) {
        int v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || v < 1 || v > 65535)
            fail(std::string(which) + " \"" + s + "\" is not a port (1-65535)");
        return v;
    };
    nlohmann::json j = {{"hostPort", port(rest, "the host port")}, {"containerPort", port(container, "the container port")},
                        {"protocol", protocol}};
    if (!host_ip.empty()) j["hostIP"] = host_ip;
    return j;
}

void add_run(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("run", "run a command in a new pod");
    struct Args {
        bool detach = false, rm = false, tty = false, interactive = false;
        std::string name, memory, restart;
        std::vector<std::string> networks, ports;
        double cpus = 0;
        long pids = 0;
        std::vector<std::string> env, volumes, command;
        std::string image;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-d,--detach", a->detach, "print the pod's name and return");
    cmd->add_flag("--rm", a->rm, "delete the pod when its container exits");
    cmd->add_option("--name", a->name, "pod name (default: from the image, with a random suffix)");
    cmd->add_option("-e,--env", a->env, "KEY=VALUE in the container's environment")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("-v,--volume", a->volumes, "SRC:DST[:ro]: a host path (absolute SRC) or a named volume")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--memory", a->memory, "memory limit, e.g. 32m");
    cmd->add_option("--cpus", a->cpus, "CPU limit, e.g. 0.5")->check(CLI::PositiveNumber);
    cmd->add_option("--pids-limit", a->pids, "maximum number of processes")->check(CLI::PositiveNumber);
    cmd->add_option("--network", a->networks, "none, host, or a network name (repeat for several)")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("-p,--publish", a->ports, "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp]: forward a host port")
        ->allow_extra_args(false)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    cmd->add_option("--restart", a->restart, "never, on-failure or always")
        ->check(CLI::IsMember({"never", "on-failure", "always"}));
    cmd->add_flag("-t,--tty", a->tty, "give the container a terminal");
    cmd->add_flag("-i,--interactive", a->interactive, "keep stdin open and attach it");
    cmd->add_option("image", a->image, "image name")->required();
    cmd->add_option("command", a->command, "command and arguments (replace the image's Cmd)");
    cmd->positionals_at_end();
    cmd->prefix_command();  // everything after IMAGE belongs to the command
    cmd->callback([&ctx, a] {
        if (a->detach && a->rm) invalid("--rm and -d: a detached pod is deleted with kiln rm");
        std::string name = a->name.empty() ? generated_name(a->image) : a->name;
        nlohmann::json container{{"name", name}, {"image", a->image}};
        if (!a->command.empty()) container["args"] = a->command;
        if (!a->env.empty()) container["env"] = a->env;
        if (a->tty) container["tty"] = true;
        if (a->interactive) container["stdin"] = true;
        nlohmann::json resources = nlohmann::json::object();
        if (!a->memory.empty()) resources["memory"] = parse_size(a->memory, "--memory");
        if (a->cpus > 0) resources["cpus"] = a->cpus;
        if (a->pids > 0) resources["pids"] = a->pids;
        if (!resources.empty()) container["resources"] = resources;
        nlohmann::json volumes = nlohmann::json::array(), mounts = nlohmann::json::array();
        for (std::size_t i = 0; i < a->volumes.size(); ++i) {
            const std::string& v = a->volumes[i];
            auto first = v.find(':');
            if (first == std::string::npos || first == 0) invalid("--volume \"" + v + "\": must be SRC:DST[:ro]");
            std::string src = v.substr(0, first), rest = v.substr(first + 1), dst = rest;
            bool ro = false;
            if (auto second = rest.find(':'); second != std::string::npos) {
                dst = rest.substr(0, second);
                std::string mode = rest.substr(second + 1);
                if (mode != "ro" && mode != "rw") invalid("--volume \"" + v + "\": the mode must be ro or rw");
                ro = mode == "ro";
            }
            std::string vname = src[0] == '/' ? "vol" + std::to_string(i) : src;
            nlohmann::json vol{{"name", vname}};
            if (src[0] == '/') vol["hostPath"] = src;
            volumes.push_back(vol);
            mounts.push_back({{"name", vname}, {"path", dst}, {"readOnly", ro}});
        }
        if (!mounts.empty()) container["volumeMounts"] = mounts;
        nlohmann::json pod{{"name", name}, {"containers", {container}}};
        if (!volumes.empty()) pod["volumes"] = volumes;
        if (!a->networks.empty()) pod["networks"] = a->networks;
        if (!a->ports.empty()) {
            pod["ports"] = nlohmann::json::array();
            for (const auto& p : a->ports) pod["ports"].push_back(parse_publish(p));
        }
        if (!a->restart.empty()) pod["restartPolicy"] = a->restart;

        ctx.client().call("POST", "/v1/pods", pod);
        if (a->detach) {
            std::cout << name << "\n";
            return;
        }
        std::string base = "/v1/pods/" + escape(name);
        // --rm holds on every way out, an error included.
        struct Remove {
            Context& ctx;
            std::string target;
            ~Remove() {
                if (target.empty()) return;
                try {
                    ctx.client().request("DELETE", target);
                } catch (...) {
                }
            }
        } remove{ctx, a->rm ? base + "?force=true" : ""};
        if (a->tty || a->interactive) {
            try {
                // logs=true: the output from before the attach comes first.
                auto ws = ctx.client().websocket(base + "/containers/" + escape(name) + "/attach?logs=true&stdin=" +
                                                 (a->interactive ? "true" : "false"));
                ctx.exit_code = interactive(*ws, a->tty && ::isatty(0), a->interactive);
            } catch (const Error&) {
                // A container that ended before the attach: its output is all in the log. kilnd
                // may not have collected its end yet: give it a moment.
                bool ended = false;
                for (int i = 0; i < 100 && !ended; ++i) {
                    ended = ctx.client().call("GET", base)["containers"][0].value("state", "") != "running";
                    if (!ended) std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
                if (!ended) throw;
                stream_logs(ctx, name, name, false, "", false, "");
            }
        } else {
            stream_logs(ctx, name, name, true, "", false, "");
        }
        // The output has ended with the container; kilnd records its exit a moment later.
        auto rec = ctx.client().call("GET", base);
        for (int i = 0; i < 5000 && rec["containers"][0].value("state", "") == "running"; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            rec = ctx.client().call("GET", base);
        }
        // The pod's container has exited (or attach ended): its code is ours.
        const auto& c = rec["containers"][0];
        if (c.contains("exitCode") && c.value("state", "") != "running") ctx.exit_code = c["exitCode"].get<int>();
    });
}

}  // namespace kiln::cli
