// kiln events [--since N] [--format text|json]: lifecycle events as they happen.
#include <iostream>

#include "api/cli/cli.hpp"

namespace kiln::cli {

void add_events(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("events", "print pod and container events as they happen");
    struct Args {
        std::string since, format = "text";
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("--since", a->since, "start after this event id");
    cmd->add_option("--format", a->format, "text or json")->check(CLI::IsMember({"text", "json"}));
    cmd->callback([&ctx, a] {
        std::string target = "/v1/events";
        if (!a->since.empty()) target += "?since=" + escape(a->since);
        api::SseParser parser;
        ctx.client().stream(target, [&](std::string_view chunk) {
            for (const auto& ev : parser.feed(chunk)) {
                auto e = nlohmann::json::parse(ev.data, nullptr, false);
                if (!e.is_object()) continue;
                if (a->format == "json") {
                    std::cout << e.dump() << std::endl;
                    continue;
                }
                std::cout << e.value("time", "") << " " << e.value("type", "") << " " << e.value("pod", "");
                if (e.contains("container")) std::cout << "/" << e.value("container", "");
                if (e.contains("attributes")) std::cout << " " << e["attributes"].dump();
                std::cout << std::endl;
            }
            return true;
        });
    });
}

}  // namespace kiln::cli
