// kiln plugins: the plugins kilnd found, with their state and why one failed.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_plugins(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("plugins", "list the plugins and their state");
    auto format = std::make_shared<std::string>("table");
    cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    cmd->callback([&ctx, format] {
        auto plugins = ctx.client().call("GET", "/v1/plugins");
        if (*format == "json") {
            std::cout << plugins.dump(2) << "\n";
            return;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& p : plugins)
            rows.push_back({p.value("id", ""), p.value("kind", ""), p.value("version", ""), p.value("state", ""),
                            p.value("error", "")});
        print_table({"ID", "KIND", "VERSION", "STATE", "ERROR"}, rows);
    });
}

}  // namespace kiln::cli
