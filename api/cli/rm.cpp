// kiln rm [-f] NAME...: delete pods (-f stops running ones first).
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_rm(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("rm", "delete pods");
    struct Args {
        std::vector<std::string> names;
        bool force = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-f,--force", a->force, "stop running pods first");
    cmd->add_option("name", a->names, "pod names")->required();
    cmd->callback([&ctx, a] {
        for (const auto& n : a->names) {
            ctx.client().call("DELETE", "/v1/pods/" + escape(n) + (a->force ? "?force=true" : ""));
            std::cout << n << "\n";
        }
    });
}

}  // namespace kiln::cli
