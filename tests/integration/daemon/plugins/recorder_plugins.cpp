// Test plugins for the plugin host: each kind, built from one source with -DKIND_... . On start
// each appends its id to <state>/plugins/started.log and writes the config it was given to its
// state dir; KILN_TEST_FAIL_START in its config makes start() throw.
#include <fstream>
#include <stdexcept>

#include <kiln/plugin.hpp>
#include <nlohmann/json.hpp>

namespace {

void record(kiln::sdk::HostContext& host, const char* what) {
    std::string cfg = host.config_json();
    std::ofstream(host.state_dir() + "/config.json") << cfg;
    std::string id = host.state_dir().substr(host.state_dir().find_last_of('/') + 1);
    std::ofstream(host.state_dir() + "/../started.log", std::ios::app) << id << "\n";
    if (cfg.find("KILN_TEST_FAIL_START") != std::string::npos) throw std::runtime_error(std::string(what) + " refuses to start");
    // {"exec": [argv...], "input": "..."}: run in the plugin's container, the result kept in exec.json.
    auto j = nlohmann::json::parse(cfg);
    if (j.contains("exec")) {
        nlohmann::json result;
        try {
            auto r = host.exec(j["exec"].get<std::vector<std::string>>(), j.value("input", ""));
            result = {{"code", r.exit_code}, {"out", r.out}, {"err", r.err}};
        } catch (const std::exception& e) {
            result = {{"error", e.what()}};
        }
        std::ofstream(host.state_dir() + "/exec.json") << result.dump();
    }
    host.log(kiln::sdk::LogLevel::info, std::string(what) + " started");
}

#if defined(KIND_ISOLATOR)
class TestPlugin : public kiln::sdk::IsolatorPlugin {
public:
    explicit TestPlugin(kiln::sdk::HostContext& host) : host_(host) {}
    void start() override { record(host_, "isolator"); }
    // Appends its id to the annotation org.kiln.test.order, and sets org.kiln.test.<id> to the
    // request it was given.
    std::string edit_spec(const std::string& spec_text, const std::string& request) override {
        auto spec = nlohmann::json::parse(spec_text);
        std::string id = host_.state_dir().substr(host_.state_dir().find_last_of('/') + 1);
        std::string order = spec.value("annotations", nlohmann::json::object()).value("org.kiln.test.order", "");
        spec["annotations"]["org.kiln.test.order"] = order.empty() ? id : order + "," + id;
        spec["annotations"]["org.kiln.test." + id] = request;
        return spec.dump();
    }

private:
    kiln::sdk::HostContext& host_;
};
#elif defined(KIND_NETWORK)
class TestPlugin : public kiln::sdk::NetworkPlugin {
public:
    explicit TestPlugin(kiln::sdk::HostContext& host) : host_(host) {}
    void start() override { record(host_, "network"); }
    std::string attach(const std::string&) override { return "{}"; }
    void detach(const std::string&) override {}

private:
    kiln::sdk::HostContext& host_;
};
#else
class TestPlugin : public kiln::sdk::InstrumentationPlugin {
public:
    explicit TestPlugin(kiln::sdk::HostContext& host) : host_(host) {}
    // {"apiInStart": true}: HostContext::api from start(), its answer or error in api.log.
    void start() override {
        record(host_, "instrumentation");
        auto cfg = nlohmann::json::parse(host_.config_json());
        if (cfg.value("apiInStart", false)) call_api("GET", "/v1/health");
    }
    // Every event as a line of events.log; {"apiOnEvent": TYPE}: on each event of that type,
    // GET /v1/pods/<its pod> through HostContext::api, into api.log.
    void on_event(const std::string& event) override {
        std::ofstream(host_.state_dir() + "/events.log", std::ios::app) << event << "\n";
        auto cfg = nlohmann::json::parse(host_.config_json());
        auto e = nlohmann::json::parse(event);
        if (cfg.contains("apiOnEvent") && e.value("type", "") == cfg["apiOnEvent"])
            call_api("GET", "/v1/pods/" + e.value("pod", ""));
    }
    void call_api(const std::string& method, const std::string& path) {
        nlohmann::json line;
        try {
            auto r = host_.api(method, path);
            line = {{"status", r.status}, {"body", nlohmann::json::parse(r.body, nullptr, false)}};
        } catch (const std::exception& e) {
            line = {{"error", e.what()}};
        }
        std::ofstream(host_.state_dir() + "/api.log", std::ios::app) << line.dump() << "\n";
    }

private:
    kiln::sdk::HostContext& host_;
};
#endif

}  // namespace

KILN_PLUGIN(TestPlugin)
