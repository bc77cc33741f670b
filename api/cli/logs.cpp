// kiln logs [-f] [--tail N] [--since T] [-t] [-c CONTAINER] NAME: a container's output, stdout to
// stdout and stderr to stderr.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void stream_logs(Context& ctx, const std::string& pod, const std::string& container, bool follow,
                 const std::string& tail, bool timestamps, const std::string& since) {
    std::string target = "/v1/pods/" + escape(pod) + "/containers/" + escape(container) + "/logs?format=json";
    if (follow) target += "&follow=true";
    if (!tail.empty()) target += "&tail=" + escape(tail);
    if (!since.empty()) target += "&since=" + escape(since);
    std::string pending;
    ctx.client().stream(target, [&](std::string_view chunk) {
        pending.append(chunk);
        std::size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
            auto j = nlohmann::json::parse(pending.substr(0, nl), nullptr, false);
            pending.erase(0, nl + 1);
            if (!j.is_object()) continue;
            std::ostream& os = j.value("stream", "") == "stderr" ? std::cerr : std::cout;
            if (timestamps) os << j.value("time", "") << " ";
            os << j.value("text", "");
            if (!j.value("partial", false)) os << "\n";
            os.flush();
        }
        return true;
    });
}

void add_logs(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("logs", "show a container's output");
    struct Args {
        std::string pod, container, tail, since;
        bool follow = false, timestamps = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-f,--follow", a->follow, "keep printing new output");
    cmd->add_option("--tail", a->tail, "only the last N lines");
    cmd->add_option("--since", a->since, "only lines since a time (RFC 3339 or unix seconds)");
    cmd->add_flag("-t,--timestamps", a->timestamps, "prefix each line with its time");
    cmd->add_option("-c,--container", a->container, "container (default: the pod's first)");
    cmd->add_option("name", a->pod, "pod name")->required();
    cmd->callback([&ctx, a] {
        std::string container = a->container;
        if (container.empty())
            container = ctx.client().call("GET", "/v1/pods/" + escape(a->pod))["spec"]["containers"][0].value("name", "");
        stream_logs(ctx, a->pod, container, a->follow, a->tail, a->timestamps, a->since);
    });
}

}  // namespace kiln::cli
