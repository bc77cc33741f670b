// kiln plugins: the plugins kilnd found, with their state and why one failed. kiln networks: the
// networks pods may join.
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

void add_networks(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("networks", "list the networks pods may join");
    auto format = std::make_shared<std::string>("table");
    cmd->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    cmd->callback([&ctx, format] {
        auto networks = ctx.client().call("GET", "/v1/networks");
        if (*format == "json") {
            std::cout << networks.dump(2) << "\n";
            return;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& n : networks) {
            // A CNI conflist's plugin types, as a summary.
            std::string types;
            if (n["config"].contains("plugins") && n["config"]["plugins"].is_array())
                for (const auto& p : n["config"]["plugins"]) types += (types.empty() ? "" : ",") + p.value("type", "?");
            rows.push_back({n.value("name", ""), n.value("plugin", ""), n.value("pluginState", ""),
                            n.value("default", false) ? "yes" : "", types});
        }
        print_table({"NAME", "PLUGIN", "PLUGIN STATE", "DEFAULT", "CHAIN"}, rows);
    });
}

}  // namespace kiln::cli
