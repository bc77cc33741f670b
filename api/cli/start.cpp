// kiln start NAME...
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_start(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("start", "start pods");
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("name", *names, "pod names")->required();
    cmd->callback([&ctx, names] {
        for (const auto& n : *names) {
            ctx.client().call("POST", "/v1/pods/" + escape(n) + "/start");
            std::cout << n << "\n";
        }
    });
}

}  // namespace kiln::cli
