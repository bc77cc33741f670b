// kiln inspect NAME...: the pods' records as JSON.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_inspect(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("inspect", "show pods as JSON");
    auto names = std::make_shared<std::vector<std::string>>();
    cmd->add_option("name", *names, "pod names")->required();
    cmd->callback([&ctx, names] {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& n : *names) out.push_back(ctx.client().call("GET", "/v1/pods/" + escape(n)));
        std::cout << (out.size() == 1 ? out[0] : out).dump(2) << "\n";
    });
}

}  // namespace kiln::cli
