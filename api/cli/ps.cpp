// kiln ps [-a] [--format table|json]: pods, one line each; -a adds the stopped ones and the
// plugins' own (system) pods.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_ps(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("ps", "list pods (running ones; with -a, all, plugins' system pods too)");
    struct Args {
        bool all = false;
        std::string format = "table";
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-a,--all", a->all, "show pods that are not running, and the plugins' system pods, too");
    cmd->add_option("--format", a->format, "table or json")->check(CLI::IsMember({"table", "json"}));
    cmd->callback([&ctx, a] {
        auto pods = ctx.client().call("GET", "/v1/pods");
        nlohmann::json shown = nlohmann::json::array();
        for (const auto& p : pods)
            if (a->all || (p.value("state", "") == "running" && !p.value("system", false))) shown.push_back(p);
        if (a->format == "json") {
            std::cout << shown.dump(2) << "\n";
            return;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& p : shown) {
            std::string images, status = p.value("state", "");
            int restarts = 0;
            for (const auto& c : p["spec"]["containers"]) images += (images.empty() ? "" : ",") + c.value("image", "");
            for (const auto& c : p["containers"]) {
                restarts += c.value("restartCount", 0);
                if (c.contains("exitCode") && c.value("state", "") != "running")
                    status = p.value("state", "") + " (" + std::to_string(c["exitCode"].get<int>()) + ")";
            }
            rows.push_back({p.value("name", ""), images, status, std::to_string(p["containers"].size()),
                            std::to_string(restarts), p.value("createdAt", "").substr(0, 19),
                            p.value("system", false) ? "yes" : ""});
        }
        print_table({"NAME", "IMAGE", "STATUS", "CONTAINERS", "RESTARTS", "CREATED", "SYSTEM"}, rows);
    });
}

}  // namespace kiln::cli
