// kiln-runtime exec: a new process in a running container, from --process FILE or from the
// command line on top of the container's own process settings.
#include <sys/ioctl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::runtime {
namespace {

uint32_t parse_id(const std::string& flag, const std::string& text) {
    try {
        size_t pos;
        unsigned long v = std::stoul(text, &pos);
        if (pos != text.size() || v > 0xffffffffUL) throw std::invalid_argument(text);
        return static_cast<uint32_t>(v);
    } catch (const std::exception&) {
        invalid(flag + ": expected a numeric id, got \"" + text + "\"");
    }
}

}  // namespace

void add_exec(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("exec", "run a process in a running container");
    struct Args {
        std::string id, process_file, pid_file, console_socket, cwd, user;
        std::vector<std::string> command, env, caps, additional_gids;
        bool detach = false, tty = false, no_new_privs = false;
        int preserve_fds = 0;
        std::string process_label, apparmor;
        bool ignore_paused = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-p,--process", a->process_file, "JSON file with the process (runtime-spec \"process\")");
    cmd->add_flag("-d,--detach", a->detach, "do not wait for the process");
    cmd->add_option("--pid-file", a->pid_file, "write the process's pid here");
    cmd->add_flag("-t,--tty", a->tty, "give the process a terminal");
    cmd->add_option("--console-socket", a->console_socket, "unix socket that receives the pty master");
    cmd->add_option("--cwd", a->cwd, "working directory in the container");
    cmd->add_option("-e,--env", a->env, "KEY=VALUE added to the environment")->allow_extra_args(false);
    cmd->add_option("-u,--user", a->user, "uid[:gid]");
    cmd->add_option("-g,--additional-gids", a->additional_gids, "supplementary gid")->allow_extra_args(false);
    cmd->add_option("-c,--cap", a->caps, "capability added to the process")->allow_extra_args(false);
    cmd->add_flag("--no-new-privs", a->no_new_privs, "set no_new_privs");
    cmd->add_option("--preserve-fds", a->preserve_fds, "pass this many fds after stdio to the process")->check(CLI::Range(0, container::kMaxPreserveFds));
    cmd->add_option("--process-label", a->process_label, "ignored (no SELinux)")->group("");
    cmd->add_option("--apparmor", a->apparmor, "ignored (no AppArmor)")->group("");
    cmd->add_flag("--ignore-paused", a->ignore_paused, "ignored")->group("");
    cmd->add_option("id", a->id, "container id")->required();
    cmd->add_option("command", a->command, "command and arguments");
    cmd->positionals_at_end();
    cmd->callback([&g, a] {
        container::Runtime rt = g.open();
        container::ExecOptions opts;
        if (!a->process_file.empty()) {
            std::string text = read_file(a->process_file);
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(text);
            } catch (const nlohmann::json::parse_error& e) {
                invalid("--process " + a->process_file + ": malformed JSON: " + e.what());
            }
            opts.process = oci::process_from_json(j, "process");
        } else {
            if (a->command.empty()) invalid("exec: a command is required (or --process FILE)");
            oci::Spec spec = rt.config(a->id);
            opts.process = *spec.process;
            opts.process.args = a->command;
            opts.process.terminal = a->tty;
            for (const auto& e : a->env) {
                if (e.find('=') == std::string::npos) invalid("--env: expected KEY=VALUE, got \"" + e + "\"");
                // A later value for a key replaces the earlier one.
                std::string key = e.substr(0, e.find('=') + 1);
                auto& env = opts.process.env;
                env.erase(std::remove_if(env.begin(), env.end(), [&](const std::string& x) { return x.rfind(key, 0) == 0; }),
                          env.end());
                env.push_back(e);
            }
            if (!a->cwd.empty()) opts.process.cwd = a->cwd;
            if (!a->user.empty()) {
                auto colon = a->user.find(':');
                opts.process.user.uid = parse_id("--user", a->user.substr(0, colon));
                opts.process.user.gid = colon == std::string::npos ? 0 : parse_id("--user", a->user.substr(colon + 1));
            }
            for (const auto& gid : a->additional_gids) opts.process.user.additional_gids.push_back(parse_id("--additional-gids", gid));
            if (!a->caps.empty()) {
                if (!opts.process.capabilities) opts.process.capabilities.emplace();
                auto& c = *opts.process.capabilities;
                for (const auto& cap : a->caps) {
                    c.bounding.push_back(cap);
                    c.effective.push_back(cap);
                    c.permitted.push_back(cap);
                }
            }
            if (a->no_new_privs) opts.process.no_new_privileges = true;
        }
        opts.pid_file = a->pid_file;
        opts.console_socket = a->console_socket;
        opts.preserve_fds = a->preserve_fds;
        Fd ours, theirs;
        if (opts.process.terminal && opts.console_socket.empty()) {
            if (a->detach) invalid("exec: a detached process with a terminal needs --console-socket");
            // Our terminal's size from the start: a program that asks at once (stty size, a
            // full-screen editor) must not see 0x0 before the first resize arrives.
            struct winsize ws{};
            if (!opts.process.console_size && ::isatty(0) && ::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
                opts.process.console_size = oci::ConsoleSize{ws.ws_row, ws.ws_col};
            ConsolePair pair = make_console_pair();
            ours.reset(pair.ours);
            theirs.reset(pair.theirs);
            opts.console_fd = theirs.get();
        }
        if (!a->detach) block_forwarded_signals();
        pid_t pid = rt.exec(a->id, opts);
        theirs.reset();
        if (a->detach) return;
        Fd master;
        if (ours) master.reset(receive_pty_master(ours.get()));
        g.exit_code = wait_foreground(pid, master.get());
    });
}

}  // namespace kiln::runtime
