// kiln-runtime list: the containers under --root, as a table, as JSON, or ids only.
#include <nlohmann/json.hpp>

#include "core/runtime/cli.hpp"

namespace kiln::runtime {

nlohmann::json state_to_json(const container::ContainerInfo& info);

void add_list(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("list", "list containers");
    struct Args {
        std::string format = "table";
        bool quiet = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-f,--format", a->format, "table or json")->check(CLI::IsMember({"table", "json"}));
    cmd->add_flag("-q,--quiet", a->quiet, "print only the ids");
    cmd->callback([&g, a] {
        auto all = g.open().list();
        if (a->quiet) {
            for (const auto& c : all) printf("%s\n", c.state.id.c_str());
            return;
        }
        if (a->format == "json") {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& c : all) out.push_back(state_to_json(c));
            printf("%s\n", out.dump().c_str());
            return;
        }
        // Aligned columns, as runc prints them.
        std::vector<std::array<std::string, 6>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
        for (const auto& c : all)
            rows.push_back({c.state.id, std::to_string(c.state.pid), c.state.status, c.state.bundle, c.created,
                            c.owner == 0 ? "root" : std::to_string(c.owner)});
        std::array<size_t, 6> width{};
        for (const auto& r : rows)
            for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
        for (const auto& r : rows) {
            std::string line;
            for (size_t i = 0; i < r.size(); ++i) {
                line += r[i];
                if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 3, ' ');
            }
            printf("%s\n", line.c_str());
        }
    });
}

}  // namespace kiln::runtime
