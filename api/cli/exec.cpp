// kiln exec [-i] [-t] [-c CONTAINER] [-e K=V] [-w DIR] [-u USER] NAME CMD...: a command in a
// running container. Without -i/-t the output comes back whole and kiln exits with its code;
// with them the session is interactive over a WebSocket.
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <thread>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {
namespace {

std::atomic<bool> winch{false};
void on_winch(int) { winch = true; }

nlohmann::json resize_message() {
    struct winsize ws{};
    ::ioctl(0, TIOCGWINSZ, &ws);
    return {{"resize", {{"cols", ws.ws_col}, {"rows", ws.ws_row}}}};
}

}  // namespace

int interactive(api::WebSocketClient& ws, bool tty, bool send_stdin) {
    struct termios saved{};
    bool raw = tty && ::isatty(0) && ::tcgetattr(0, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        ::cfmakeraw(&t);
        ::tcsetattr(0, TCSANOW, &t);
        ws.send_text(resize_message().dump());
        std::signal(SIGWINCH, on_winch);
    }
    std::atomic<bool> done{false};
    std::thread input;
    if (send_stdin) {
        input = std::thread([&] {
            char buf[4096];
            while (!done) {
                struct pollfd p{0, POLLIN, 0};
                if (::poll(&p, 1, 200) <= 0) continue;
                ssize_t n = ::read(0, buf, sizeof buf);
                if (n <= 0) {
                    ws.send_text(R"({"stdin_eof":true})");
                    return;
                }
                if (!ws.send_binary(std::string_view(buf, static_cast<std::size_t>(n)))) return;
            }
        });
    }
    int code = 255;
    bool got_exit = false;
    while (!ws.closed()) {
        if (winch.exchange(false)) ws.send_text(resize_message().dump());
        auto msg = ws.receive(std::chrono::milliseconds(200));
        if (!msg) continue;
        if (msg->text) {
            auto j = nlohmann::json::parse(msg->data, nullptr, false);
            if (j.contains("exit_code")) {
                // With "error" beside it, the command never ran: kiln says why.
                if (j.contains("error")) std::cerr << "kiln: " << j.value("error", "") << "\n";
                code = j["exit_code"].get<int>();
                got_exit = true;
                break;
            }
            if (j.contains("error")) {
                if (raw) ::tcsetattr(0, TCSANOW, &saved);
                done = true;
                if (input.joinable()) input.join();
                throw Error(Errc::failed_precondition, j.value("error", ""));
            }
            continue;
        }
        if (msg->data.empty()) continue;
        int fd = msg->data[0] == 2 ? 2 : 1;
        std::string_view data(msg->data.data() + 1, msg->data.size() - 1);
        while (!data.empty()) {
            ssize_t n = ::write(fd, data.data(), data.size());
            if (n <= 0) break;
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    done = true;
    if (input.joinable()) input.join();
    if (raw) ::tcsetattr(0, TCSANOW, &saved);
    if (!got_exit) {
        std::string reason = ws.close_reason();
        throw Error(Errc::internal, "the session ended without an exit code" + (reason.empty() ? "" : ": " + reason));
    }
    ws.close();
    return code;
}

void add_exec(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("exec", "run a command in a running container");
    struct Args {
        bool interactive = false, tty = false;
        std::string container, workdir, user, pod;
        std::vector<std::string> env, command;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-i,--interactive", a->interactive, "attach stdin");
    cmd->add_flag("-t,--tty", a->tty, "give the command a terminal");
    cmd->add_option("-c,--container", a->container, "container (default: the pod's first)");
    cmd->add_option("-e,--env", a->env, "KEY=VALUE added to the environment");
    cmd->add_option("-w,--workdir", a->workdir, "working directory");
    cmd->add_option("-u,--user", a->user, "user[:group], by number or by name");
    cmd->add_option("name", a->pod, "pod name")->required();
    cmd->add_option("command", a->command, "command and arguments")->required();
    cmd->positionals_at_end();
    cmd->prefix_command();
    cmd->callback([&ctx, a] {
        std::string container = a->container;
        if (container.empty())
            container = ctx.client().call("GET", "/v1/pods/" + escape(a->pod))["spec"]["containers"][0].value("name", "");
        nlohmann::json req{{"command", a->command}};
        if (!a->env.empty()) req["env"] = a->env;
        if (!a->workdir.empty()) req["workingDir"] = a->workdir;
        if (!a->user.empty()) req["user"] = a->user;
        std::string target = "/v1/pods/" + escape(a->pod) + "/containers/" + escape(container) + "/exec";
        if (!a->interactive && !a->tty) {
            auto r = ctx.client().call("POST", target, req);
            std::cout << r.value("stdout", "");
            std::cerr << r.value("stderr", "");
            ctx.exit_code = r.value("exitCode", 255);
            return;
        }
        req["tty"] = a->tty;
        struct winsize size{};
        if (a->tty && ::isatty(0) && ::ioctl(0, TIOCGWINSZ, &size) == 0 && size.ws_row && size.ws_col)
            req["consoleSize"] = {{"rows", size.ws_row}, {"cols", size.ws_col}};
        auto ws = ctx.client().websocket(target);
        ws->send_text(req.dump());
        ctx.exit_code = interactive(*ws, a->tty, a->interactive);
    });
}

}  // namespace kiln::cli
