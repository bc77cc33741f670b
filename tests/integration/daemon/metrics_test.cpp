// The metrics plugin (plugins/metrics): its container serves Prometheus text on a port of the
// test's own network namespace, and the figures match the cgroup files and kilnd's state.
#include <regex>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

// The value of the first sample `name{labels...}` whose labels contain every one of `has`.
std::optional<double> sample(const std::string& text, const std::string& name, const std::vector<std::string>& has) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + "{", 0) != 0 && line.rfind(name + " ", 0) != 0) continue;
        bool all = true;
        for (const auto& h : has) all = all && line.find(h) != std::string::npos;
        if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return std::nullopt;
}

std::int64_t cgroup_number(const std::string& path) { return std::stoll(sh("cat " + path).out); }

TEST(Metrics, ServedFromItsContainerAndMatchTheCgroups) {
    KILN_REQUIRE_ROOT();
    TestNetns ns;
    Kilnd k("disabledPlugins: [cni, gateway]\nstatsInterval: 200ms\nplugins:\n  metrics: {address: 127.0.0.1, port: 19464}\n", ns.name());
    k.import_busybox();
    json pod = simple_pod("busy", {"sh", "-c", "while :; do :; done"});
    pod["containers"][0]["resources"] = {{"memory", "32m"}, {"pids", 50}};
    ASSERT_EQ(k.client().request("POST", "/v1/pods", pod).status, 201);
    json flaky = simple_pod("flaky", {"sh", "-c", "sleep 0.2; exit 3"});
    flaky["restartPolicy"] = {{"policy", "always"}, {"backoff", {{"initial", "100ms"}, {"max", "200ms"}}}};
    ASSERT_EQ(k.client().request("POST", "/v1/pods", flaky).status, 201);

    auto plugin = k.client().call("GET", "/v1/plugins/metrics");
    ASSERT_EQ(plugin["state"], "started") << plugin.dump();
    EXPECT_TRUE(k.client().call("GET", "/v1/pods/plugin-metrics").value("system", false));

    std::string text;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
        text = ns.in("busybox wget -q -O - http://127.0.0.1:19464/metrics").out;
        auto restarts = sample(text, "kiln_container_restarts_total", {"pod=\"flaky\""});
        auto heard = sample(text, "kiln_events_total", {"type=\"container.restarted\""});
        auto cpu = sample(text, "kiln_container_cpu_seconds_total", {"pod=\"busy\""});
        // The record counts a restart as it begins, the event comes once it has: wait for both.
        if (restarts && *restarts >= 2 && heard && *heard >= 2 && cpu && *cpu > 0.2) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::string cg = k.cgroup_parent() + "/busy/main";
    // The limits are what the cgroup files say.
    EXPECT_EQ(sample(text, "kiln_container_memory_limit_bytes", {"pod=\"busy\"", "container=\"main\""}).value_or(-1),
              static_cast<double>(cgroup_number("/sys/fs/cgroup/memory/" + cg + "/memory.limit_in_bytes")))
        << text;
    EXPECT_EQ(sample(text, "kiln_container_pids_limit", {"pod=\"busy\""}).value_or(-1), 50.0);
    EXPECT_EQ(static_cast<double>(cgroup_number("/sys/fs/cgroup/pids/" + cg + "/pids.max")), 50.0);
    // CPU time and memory use: at most what the cgroup counts now (it only grows), and not zero.
    double cpu = sample(text, "kiln_container_cpu_seconds_total", {"pod=\"busy\""}).value_or(-1);
    EXPECT_GT(cpu, 0.2) << text;
    EXPECT_LE(cpu, static_cast<double>(cgroup_number("/sys/fs/cgroup/cpuacct/" + cg + "/cpuacct.usage")) / 1e9 + 0.001);
    EXPECT_GT(sample(text, "kiln_container_memory_usage_bytes", {"pod=\"busy\""}).value_or(0), 0);
    EXPECT_GE(sample(text, "kiln_container_pids", {"pod=\"busy\""}).value_or(0), 1);
    EXPECT_GE(sample(text, "kiln_container_restarts_total", {"pod=\"flaky\""}).value_or(0), 2) << text;
    EXPECT_EQ(sample(text, "kiln_pod_state", {"pod=\"busy\"", "state=\"running\""}).value_or(0), 1);
    EXPECT_EQ(sample(text, "kiln_pod_state", {"pod=\"plugin-metrics\"", "system=\"true\""}).value_or(0), 1);
    // kilnd's API and the plugins.
    EXPECT_GE(sample(text, "kiln_api_requests_total", {"method=\"POST\"", "code=\"201\""}).value_or(0), 2) << text;
    EXPECT_GE(sample(text, "kiln_api_request_duration_seconds_count", {}).value_or(0), 3);
    EXPECT_EQ(sample(text, "kiln_api_request_duration_seconds_bucket", {"le=\"+Inf\""}),
              sample(text, "kiln_api_request_duration_seconds_count", {}));
    EXPECT_EQ(sample(text, "kiln_plugin_up", {"plugin=\"metrics\""}).value_or(-1), 1);
    EXPECT_EQ(sample(text, "kiln_plugin_up", {"plugin=\"cni\"", "state=\"disabled\""}).value_or(-1), 0);
    EXPECT_GE(sample(text, "kiln_events_total", {"type=\"container.restarted\""}).value_or(0), 2);
    // Every family is declared before its samples, as the exposition format asks.
    EXPECT_NE(text.find("# TYPE kiln_container_cpu_seconds_total counter"), std::string::npos);
    EXPECT_NE(text.find("# TYPE kiln_api_request_duration_seconds histogram"), std::string::npos);
    // Clients that connect and send nothing hold up no one else's scrape: it is answered while
    // they are still connected (a server taking one connection at a time would answer it only
    // after it had timed them out).
    std::string concurrent = ns.in(
        "python3 -c \"import socket\n"
        "idle = [socket.create_connection(('127.0.0.1', 19464)) for _ in range(3)]\n"
        "s = socket.create_connection(('127.0.0.1', 19464))\n"
        "s.sendall(b'GET /metrics HTTP/1.0\\r\\n\\r\\n')\n"
        "data = b''\n"
        "while True:\n"
        "    b = s.recv(65536)\n"
        "    if not b: break\n"
        "    data += b\n"
        "still = 0\n"
        "for c in idle:\n"
        "    c.setblocking(False)\n"
        "    try: c.recv(1)\n"
        "    except BlockingIOError: still += 1\n"
        "print(data.startswith(b'HTTP/1.1 200'), still)\"").out;
    EXPECT_EQ(concurrent, "True 3\n");
    // Other paths are not found, and the port is the configured one only.
    EXPECT_NE(ns.in("busybox wget -q -O - http://127.0.0.1:19464/other").code, 0);
    EXPECT_NE(ns.in("busybox wget -q -T 2 -O - http://127.0.0.1:9464/metrics").code, 0);
}

TEST(Metrics, ABadConfigFailsThePluginByName) {
    KILN_REQUIRE_ROOT();
    TestNetns ns;
    Kilnd k("disabledPlugins: [cni, gateway]\nplugins:\n  metrics: {port: 70000}\n", ns.name());
    auto plugin = k.client().call("GET", "/v1/plugins/metrics");
    EXPECT_EQ(plugin["state"], "failed");
    EXPECT_NE(plugin.value("error", "").find("config.port: must be a port number"), std::string::npos) << plugin.dump();
    // Its container, started before the plugin, went with it.
    EXPECT_EQ(k.client().request("GET", "/v1/pods/plugin-metrics").status, 404);
}

}  // namespace
}  // namespace kiln::testing
