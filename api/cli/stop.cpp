// kiln stop [-t SECONDS] NAME...: the stop signal, then SIGKILL after the grace period.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_stop(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("stop", "stop pods");
    struct Args {
        std::vector<std::string> names;
        double timeout = -1;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-t,--time", a->timeout, "seconds to wait before SIGKILL (default: the pod's grace period)")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("name", a->names, "pod names")->required();
    cmd->callback([&ctx, a] {
        for (const auto& n : a->names) {
            std::string target = "/v1/pods/" + escape(n) + "/stop";
            if (a->timeout >= 0) target += "?timeout=" + std::to_string(a->timeout);
            ctx.client().call("POST", target);
            std::cout << n << "\n";
        }
    });
}

}  // namespace kiln::cli
