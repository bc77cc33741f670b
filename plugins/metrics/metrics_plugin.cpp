// The metrics plugin: every statsInterval kilnd hands it the pods' cgroup stats, the API's
// request counts and latencies and the plugins' states; it renders them, with the events it
// counted, as Prometheus text exposition into <stateDir>/www/metrics, which kiln-metrics-server
// serves from the plugin's container (the directory is its /srv).
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <kiln/plugin.hpp>
#include <nlohmann/json.hpp>

namespace kiln::metrics {
namespace {

using json = nlohmann::json;

std::string escape(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

// The shortest text that reads back as v.
std::string number(double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

class Text {
public:
    void family(const std::string& name, const std::string& type, const std::string& help) {
        out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    }
    void sample(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels, double value) {
        out_ << name;
        if (!labels.empty()) {
            out_ << "{";
            for (std::size_t i = 0; i < labels.size(); ++i)
                out_ << (i ? "," : "") << labels[i].first << "=\"" << escape(labels[i].second) << "\"";
            out_ << "}";
        }
        out_ << " " << number(value) << "\n";
    }
    std::string str() const { return out_.str(); }

private:
    std::ostringstream out_;
};

class Metrics : public sdk::InstrumentationPlugin {
public:
    explicit Metrics(sdk::HostContext& host) : host_(host) {}

    void start() override {
        json config = json::parse(host_.config_json());
        for (const auto& [k, v] : config.items())
            if (k != "address" && k != "port") throw std::runtime_error("config." + k + ": unknown field (known: address, port)");
        std::string address = config.value("address", "0.0.0.0");
        if (!config.contains("port") || !config["port"].is_number_integer() || config["port"].get<int>() < 1 ||
            config["port"].get<int>() > 65535)
            throw std::runtime_error("config.port: must be a port number (1-65535)");
        if (address.empty() || address.find_first_not_of("0123456789abcdefABCDEF.:[]") != std::string::npos)
            throw std::runtime_error("config.address: \"" + address + "\" is not an IP address");
        dir_ = host_.state_dir() + "/www";
        std::filesystem::create_directories(dir_);
        write(dir_ + "/metrics", render(json::object()));
        write(dir_ + "/listen", address + ":" + std::to_string(config["port"].get<int>()) + "\n");
        host_.log(sdk::LogLevel::info, "serving /metrics on " + address + ":" + std::to_string(config["port"].get<int>()));
    }

    void on_event(const std::string& text) override {
        json e = json::parse(text, nullptr, false);
        if (!e.is_object()) return;
        std::lock_guard lock(mu_);
        ++events_[e.value("type", "unknown")];
    }

    void on_stats(const std::string& text) override {
        json stats = json::parse(text);
        write(dir_ + "/metrics", render(stats));
    }

private:
    static void write(const std::string& path, const std::string& data) {
        std::string tmp = path + ".tmp";
        {
            std::ofstream out(tmp, std::ios::trunc);
            out << data;
            if (!out.flush()) throw std::runtime_error("writing " + tmp);
        }
        std::filesystem::rename(tmp, path);
    }

    std::string render(const json& stats) {
        Text t;
        const json pods = stats.value("pods", json::array());
        using Labels = std::vector<std::pair<std::string, std::string>>;
        auto per_container = [&](const char* name, const char* type, const char* help, const char* key) {
            t.family(name, type, help);
            for (const auto& p : pods)
                for (const auto& c : p.value("containers", json::array()))
                    if (c.contains(key) && c[key].is_number())
                        t.sample(name, Labels{{"pod", p.value("name", "")}, {"container", c.value("name", "")}},
                                 c[key].get<double>());
        };
        auto per_pod = [&](const char* name, const char* type, const char* help, const char* key) {
            t.family(name, type, help);
            for (const auto& p : pods)
                if (p.contains(key) && p[key].is_number()) t.sample(name, Labels{{"pod", p.value("name", "")}}, p[key].get<double>());
        };
        t.family("kiln_pod_state", "gauge", "1 for the state the pod is in (created, running, stopping, stopped, failed).");
        for (const auto& p : pods)
            t.sample("kiln_pod_state",
                     Labels{{"pod", p.value("name", "")}, {"state", p.value("state", "")}, {"system", p.value("system", false) ? "true" : "false"}}, 1);
        per_pod("kiln_pod_cpu_seconds_total", "counter", "CPU time of the pod's cgroup.", "cpuSeconds");
        per_pod("kiln_pod_memory_usage_bytes", "gauge", "Memory use of the pod's cgroup.", "memoryBytes");
        per_pod("kiln_pod_pids", "gauge", "Tasks in the pod's cgroup.", "pids");
        t.family("kiln_container_state", "gauge", "1 for the state the container is in.");
        for (const auto& p : pods)
            for (const auto& c : p.value("containers", json::array()))
                t.sample("kiln_container_state",
                         Labels{{"pod", p.value("name", "")}, {"container", c.value("name", "")}, {"state", c.value("state", "")}}, 1);
        per_container("kiln_container_restarts_total", "counter", "Restarts by the pod's restart policy.", "restartCount");
        per_container("kiln_container_cpu_seconds_total", "counter", "CPU time of the container's cgroup.", "cpuSeconds");
        per_container("kiln_container_memory_usage_bytes", "gauge", "Memory use of the container's cgroup.", "memoryBytes");
        per_container("kiln_container_memory_limit_bytes", "gauge", "Memory limit of the container's cgroup (absent: none).",
                      "memoryLimitBytes");
        per_container("kiln_container_pids", "gauge", "Tasks in the container's cgroup.", "pids");
        per_container("kiln_container_pids_limit", "gauge", "The container's pids limit (absent: none).", "pidsLimit");

        const json api = stats.value("api", json::object());
        t.family("kiln_api_requests_total", "counter", "REST API requests kilnd answered, by method and status code.");
        for (const auto& r : api.value("requests", json::array()))
            t.sample("kiln_api_requests_total", Labels{{"method", r.value("method", "")}, {"code", std::to_string(r.value("code", 0))}},
                     r.value("count", 0.0));
        t.family("kiln_api_request_duration_seconds", "histogram", "Time kilnd took to answer a REST API request.");
        if (api.contains("duration")) {
            const json& d = api["duration"];
            for (const auto& b : d.value("buckets", json::array()))
                t.sample("kiln_api_request_duration_seconds_bucket", Labels{{"le", number(b.value("le", 0.0))}}, b.value("count", 0.0));
            t.sample("kiln_api_request_duration_seconds_bucket", Labels{{"le", "+Inf"}}, d.value("count", 0.0));
            t.sample("kiln_api_request_duration_seconds_sum", {}, d.value("sum", 0.0));
            t.sample("kiln_api_request_duration_seconds_count", {}, d.value("count", 0.0));
        }
        t.family("kiln_plugin_up", "gauge", "1 for a started plugin, 0 for one that failed, stopped or is disabled.");
        for (const auto& p : stats.value("plugins", json::array()))
            t.sample("kiln_plugin_up",
                     Labels{{"plugin", p.value("id", "")}, {"kind", p.value("kind", "")}, {"state", p.value("state", "")}},
                     p.value("state", "") == "started" ? 1 : 0);
        t.family("kiln_events_total", "counter", "kilnd's events this plugin heard, by type.");
        {
            std::lock_guard lock(mu_);
            for (const auto& [type, count] : events_) t.sample("kiln_events_total", Labels{{"type", type}}, static_cast<double>(count));
        }
        return t.str();
    }

    sdk::HostContext& host_;
    std::string dir_;
    std::mutex mu_;
    std::map<std::string, std::uint64_t> events_;
};

}  // namespace
}  // namespace kiln::metrics

KILN_PLUGIN(kiln::metrics::Metrics)
