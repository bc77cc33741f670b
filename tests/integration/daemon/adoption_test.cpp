// kill -9 of kilnd: the containers keep running under their monitors, and the next kilnd adopts
// them: same pids, exits still collected, stop and delete still work. SIGTERM likewise leaves
// pods running.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Adoption, KillNineThenRestartAdoptsRunningPods) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto pod = k.client().call("POST", "/v1/pods", simple_pod("keep", {"sleep", "1000"}));
    auto short_pod = k.client().call("POST", "/v1/pods", simple_pod("short", {"sleep", "1000"}));
    int pid = pod["containers"][0]["pid"];
    int short_pid = short_pod["containers"][0]["pid"];

    k.crash();
    EXPECT_EQ(::kill(pid, 0), 0) << "the container outlives kilnd";
    // While kilnd is away, "short" ends: its monitor records the exit for the next kilnd.
    ASSERT_EQ(::kill(short_pid, SIGKILL), 0);

    k.start();
    auto again = k.client().call("GET", "/v1/pods/keep");
    EXPECT_EQ(again["state"], "running");
    EXPECT_EQ(again["containers"][0]["pid"], pid);
    auto s = k.wait_pod("short", [](const json& p) { return p["containers"][0]["state"] != "running"; });
    EXPECT_EQ(s["containers"][0]["exitCode"], 137);

    auto stopped = k.client().call("POST", "/v1/pods/keep/stop?timeout=0.2");
    EXPECT_EQ(stopped["state"], "stopped");
    EXPECT_NE(::kill(pid, 0), 0);
}

TEST(Adoption, SigtermLeavesPodsRunning) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto pod = k.client().call("POST", "/v1/pods", simple_pod("stay", {"sleep", "1000"}));
    int pid = pod["containers"][0]["pid"];
    k.stop();
    EXPECT_EQ(::kill(pid, 0), 0);
    k.start();
    EXPECT_EQ(k.client().call("GET", "/v1/pods/stay")["state"], "running");
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

TEST(Adoption, StopPodsOnExitStopsThemWithKilnd) {
    KILN_REQUIRE_ROOT();
    Kilnd k("stopPodsOnExit: true\n");
    k.import_busybox();
    auto spec = simple_pod("bye", {"sleep", "1000"});
    spec["stopGracePeriod"] = 0.2;  // sleep as pid 1 ignores SIGTERM: no need to wait 10 s for SIGKILL
    auto pod = k.client().call("POST", "/v1/pods", spec);
    int pid = pod["containers"][0]["pid"];
    k.stop();
    EXPECT_NE(::kill(pid, 0), 0) << "the pod stopped with kilnd";
    k.start();
    auto again = k.client().call("GET", "/v1/pods/bye");
    EXPECT_EQ(again["state"], "stopped") << "and is still known, stopped";
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

// kilnd killed after spawning a monitor but before recording it: the record has no monitor, the
// monitor runs; the next kilnd finds it by its socket.
TEST(Adoption, AnUnrecordedMonitorIsFoundByItsSocket) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto pod = k.client().call("POST", "/v1/pods", simple_pod("lost", {"sleep", "1000"}));
    int pid = pod["containers"][0]["pid"];
    k.crash();
    std::string record = k.dir() + "/state/pods/lost/pod.json";
    auto j = nlohmann::json::parse(std::ifstream(record));
    j["containers"][0].erase("monitorPid");
    j["containers"][0].erase("pid");
    j["containers"][0]["state"] = "created";
    std::ofstream(record) << j.dump();
    k.start();
    auto again = k.client().call("GET", "/v1/pods/lost");
    EXPECT_EQ(again["containers"][0]["state"], "running");
    EXPECT_EQ(again["containers"][0]["pid"], pid);
    EXPECT_EQ(k.client().call("POST", "/v1/pods/lost/stop?timeout=0.2")["containers"][0]["exitCode"], 137);
    EXPECT_NE(::kill(pid, 0), 0);
}

}  // namespace
}  // namespace kiln::testing
