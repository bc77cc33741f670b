// kiln info: the daemon's version, kernel, cgroup layout and counts.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_info(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("info", "show information about kilnd");
    auto format = std::make_shared<std::string>("text");
    cmd->add_option("--format", *format, "text or json")->check(CLI::IsMember({"text", "json"}));
    cmd->callback([&ctx, format] {
        auto i = ctx.client().call("GET", "/v1/info");
        if (*format == "json") {
            std::cout << i.dump(2) << "\n";
            return;
        }
        std::cout << "Version:        " << i.value("version", "") << "\n"
                  << "Kernel:         " << i.value("kernel", "") << "\n"
                  << "Cgroups:        " << i.value("cgroupLayout", "") << " (parent " << i.value("cgroupParent", "") << ")\n"
                  << "Pods:           " << i["pods"].value("total", 0) << " (" << i["pods"].value("running", 0) << " running)\n"
                  << "Containers:     " << i["containers"].value("total", 0) << " (" << i["containers"].value("running", 0)
                  << " running)\n"
                  << "Images:         " << i.value("images", 0) << "\n"
                  << "State dir:      " << i.value("stateDir", "") << "\n"
                  << "Run dir:        " << i.value("runDir", "") << "\n";
    });
}

}  // namespace kiln::cli
