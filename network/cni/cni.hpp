// The CNI side of the cni plugin, apart from how a binary is run: conflists read and checked,
// each plugin's config built (name, cniVersion, runtimeConfig, prevResult), CNI answers read,
// results turned into what kilnd shows, and the cache that DEL and GC rely on.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kiln::cni {

using json = nlohmann::json;

// A CNI error: its code and message, as a plugin reported it (or as this side made one).
class Error : public std::runtime_error {
public:
    Error(int code, std::string msg, std::string details = {})
        : std::runtime_error(text(code, msg, details)), code_(code), msg_(std::move(msg)), details_(std::move(details)) {}
    int code() const { return code_; }
    const std::string& msg() const { return msg_; }
    const std::string& details() const { return details_; }

private:
    static std::string text(int code, const std::string& msg, const std::string& details);
    int code_;
    std::string msg_, details_;
};

// A conflist: {"cniVersion", "name", "plugins": [{"type", ...}], "disableCheck", "disableGC"},
// or a single-plugin conf ({"type", ...}) made into one. `name` defaults to `network`. Throws
// std::runtime_error naming the field.
json read_conflist(json config, const std::string& network);

// The conflists (*.conflist, *.conf, *.json) in `dir` by name; a file that does not parse is
// skipped with its reason in `skipped`.
std::optional<json> find_conflist(const std::string& dir, const std::string& name, std::vector<std::string>* skipped = nullptr);

// What one attachment is, to CNI.
struct Attachment {
    std::string container_id;  // the pod
    std::string netns;
    std::string ifname;
    json port_mappings = json::array();  // runtimeConfig.portMappings, for plugins with that capability
};

// The stdin of plugin `index` of `conflist`: its config with name, cniVersion, runtimeConfig
// (the capabilities it declares) and prevResult (when given).
json plugin_config(const json& conflist, std::size_t index, const Attachment& a, const json* prev_result);

// How a binary is run: (command, plugin type, stdin) -> (exit code, stdout, stderr).
struct RunResult {
    int exit_code = -1;
    std::string out, err;
};
using Runner = std::function<RunResult(const std::string& command, const std::string& type, const std::string& input)>;

// Reads a plugin's answer: the JSON object on stdout for a zero exit, else the CNI error it
// printed (or one made from its stderr). Throws Error.
json read_answer(const std::string& type, const std::string& command, const RunResult& r);

// ADD through the chain, each plugin's result the next one's prevResult. On an error the chain
// is deleted again (DEL, in reverse) before the error is thrown. Returns the last result.
json add(const json& conflist, const Attachment& a, const Runner& run);
// DEL in reverse, with the cached result as prevResult; every plugin is asked even after one
// fails, and the first error is thrown at the end.
void del(const json& conflist, const Attachment& a, const json* cached_result, const Runner& run);
// CHECK in order (for cniVersion 0.4.0 and later, unless disableCheck).
void check(const json& conflist, const Attachment& a, const json& cached_result, const Runner& run);
// GC (CNI 1.1) with the valid attachments [{containerID, ifname}], unless disableGC or a version
// before 1.1.0. False when the conflist's version has no GC.
bool gc(const json& conflist, const json& valid_attachments, const Runner& run);

// A CNI result (any version from 0.3.0) as kilnd shows it: {"interfaces", "ips", "routes", "dns"}.
json to_status(const json& result);

// "1.0.0" < "1.1.0": versions compared number by number.
int compare_versions(const std::string& a, const std::string& b);

}  // namespace kiln::cni
