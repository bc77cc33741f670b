// The kiln command line: shared pieces of the verbs (one file per verb, each adding its
// subcommand), the connection to kilnd, and output helpers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include "api/client/client.hpp"

namespace kiln::cli {

struct Context {
    std::string host;  // -H / KILN_HOST: unix:///path
    int exit_code = 0;
    api::Client& client();

private:
    std::unique_ptr<api::Client> client_;
};

void add_run(CLI::App& app, Context& ctx);
void add_ps(CLI::App& app, Context& ctx);
void add_inspect(CLI::App& app, Context& ctx);
void add_start(CLI::App& app, Context& ctx);
void add_stop(CLI::App& app, Context& ctx);
void add_rm(CLI::App& app, Context& ctx);
void add_exec(CLI::App& app, Context& ctx);
void add_logs(CLI::App& app, Context& ctx);
void add_events(CLI::App& app, Context& ctx);
void add_info(CLI::App& app, Context& ctx);
void add_image(CLI::App& app, Context& ctx);
void add_apply(CLI::App& app, Context& ctx);
void add_pull(CLI::App& app, Context& ctx);
void add_plugins(CLI::App& app, Context& ctx);
void add_networks(CLI::App& app, Context& ctx);

// YAML -> JSON for the API: scalars that read as booleans or numbers become those; kilnd's
// schema checks the rest and names the field.
nlohmann::json yaml_to_json(const YAML::Node& node);
// Prints rows as a table whose columns are as wide as their widest cell.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
// Percent-encodes one path segment or query value.
std::string escape(const std::string& text);
// "32m" -> bytes (binary units), for --memory.
std::int64_t parse_size(const std::string& text, const std::string& flag);
// Streams a container's log (follow) to stdout and stderr until it ends.
void stream_logs(Context& ctx, const std::string& pod, const std::string& container, bool follow,
                 const std::string& tail, bool timestamps, const std::string& since);
// Runs an interactive session over a WebSocket (exec -it, attach): the terminal in raw mode
// when `tty`, stdin sent, output written; returns the exit code the server reports.
int interactive(api::WebSocketClient& ws, bool tty, bool send_stdin);

}  // namespace kiln::cli
