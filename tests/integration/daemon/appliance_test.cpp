// Appliance mode: the pods of kiln.yaml start with kilnd and are reconciled on SIGHUP (added,
// changed and removed pods); a config error at reload keeps the running config.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

std::string appliance(const std::vector<std::pair<std::string, std::string>>& pods) {
    // As the harness writes it: no network plugin in the machine's namespace.
    std::string y = "defaultNetworks: []\ndisabledPlugins: [cni, metrics, gateway]\npods:\n";
    for (const auto& [name, cmd] : pods)
        y += "  - name: " + name + "\n    networks: [none]\n    containers:\n      - name: main\n        image: busybox\n"
             "        command: [sh, -c, \"" + cmd + "\"]\n";
    return y;
}

TEST(Appliance, PodsFromTheConfigAndReloadOnSighup) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string config = k.dir() + "/kiln.yaml";
    std::ofstream(config) << appliance({{"one", "exec sleep 1000"}, {"two", "exec sleep 1000"}});
    ::kill(k.pid(), SIGHUP);
    k.wait_pod("two", [](const json& p) { return p["state"] == "running"; });
    EXPECT_EQ(k.client().call("GET", "/v1/pods/one")["state"], "running");

    // Restarting kilnd keeps them (adopted, not replaced).
    int pid = k.client().call("GET", "/v1/pods/one")["containers"][0]["pid"];
    k.stop();
    k.start();
    EXPECT_EQ(k.client().call("GET", "/v1/pods/one")["containers"][0]["pid"], pid);

    // two changes, one goes, three comes.
    std::ofstream(config) << appliance({{"two", "exec sleep 999"}, {"three", "exec sleep 1000"}});
    ::kill(k.pid(), SIGHUP);
    k.wait_pod("three", [](const json& p) { return p["state"] == "running"; });
    auto two = k.wait_pod("two", [](const json& p) { return p["spec"]["containers"][0]["command"][2] == "exec sleep 999"; });
    EXPECT_EQ(two["state"], "running");
    for (int i = 0; i < 100 && k.client().request("GET", "/v1/pods/one").status != 404; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(k.client().request("GET", "/v1/pods/one").status, 404);

    // A broken file is reported and changes nothing.
    std::ofstream(config) << "pods: [{name: BAD}]\n";
    ::kill(k.pid(), SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(k.client().call("GET", "/v1/pods").size(), 2u);
}

TEST(Appliance, BadConfigStopsKilndWithTheKeyAndLine) {
    KILN_REQUIRE_ROOT();
    TempDir t("kilnd-cfg");
    std::ofstream(t.path() + "/kiln.yaml") << "stateDir: /tmp/x\napi:\n  socketMode: 0999\n";
    auto r = run({KILND_BINARY, "--config", t.path() + "/kiln.yaml", "--run-dir", t.path() + "/run"});
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("kiln.yaml:3"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("socketMode"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kiln::testing
