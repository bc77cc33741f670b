// A pod's life through the API: create and start, inspect, logs, stop with the grace period,
// delete, and nothing left behind; exit codes; ?start=false.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(PodLifecycle, RunsStopsAndDeletesLeavingNothing) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto created = k.client().request("POST", "/v1/pods", simple_pod("web", {"sh", "-c", "echo hello; exec sleep 1000"}));
    ASSERT_EQ(created.status, 201) << created.body;
    auto pod = created.json();
    EXPECT_EQ(pod["state"], "running");
    ASSERT_EQ(pod["containers"].size(), 1u);
    EXPECT_EQ(pod["containers"][0]["state"], "running");
    int pid = pod["containers"][0]["pid"];
    EXPECT_EQ(::kill(pid, 0), 0) << "the container's init is alive";

    k.wait_pod("web", [&](const json&) { return k.logs("web", "main").find("hello") != std::string::npos; });
    EXPECT_EQ(k.logs("web", "main"), "hello\n");

    // sleep as pid 1 ignores SIGTERM: the grace period runs out and SIGKILL ends it.
    auto stopped = k.client().call("POST", "/v1/pods/web/stop?timeout=0.2");
    EXPECT_EQ(stopped["state"], "stopped");
    EXPECT_EQ(stopped["containers"][0]["exitCode"], 137);
    EXPECT_NE(::kill(pid, 0), 0) << "the container's init is gone";

    auto del = k.client().request("DELETE", "/v1/pods/web");
    EXPECT_EQ(del.status, 204) << del.body;
    EXPECT_EQ(k.client().request("GET", "/v1/pods/web").status, 404);
    expect_nothing_left(k.dir() + "/state", k.cgroup_parent() + "/web");
}

TEST(PodLifecycle, ExitCodeAndFailedState) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods", simple_pod("seven", {"sh", "-c", "exit 7"}));
    auto pod = k.wait_pod("seven", [](const json& p) { return p["containers"][0]["state"] != "running"; });
    EXPECT_EQ(pod["containers"][0]["state"], "failed");
    EXPECT_EQ(pod["containers"][0]["exitCode"], 7);
    EXPECT_EQ(pod["state"], "failed");

    k.client().call("POST", "/v1/pods", simple_pod("zero", {"true"}));
    pod = k.wait_pod("zero", [](const json& p) { return p["state"] == "stopped"; });
    EXPECT_EQ(pod["containers"][0]["exitCode"], 0);
}

TEST(PodLifecycle, CreateWithoutStartThenStart) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto r = k.client().request("POST", "/v1/pods?start=false", simple_pod("later", {"sleep", "1000"}));
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.json()["state"], "created");
    auto started = k.client().call("POST", "/v1/pods/later/start");
    EXPECT_EQ(started["state"], "running");
    // Deleting a running pod needs force.
    auto refused = k.client().request("DELETE", "/v1/pods/later");
    EXPECT_EQ(refused.status, 412) << refused.body;
    EXPECT_EQ(k.client().request("DELETE", "/v1/pods/later?force=true").status, 204);
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

TEST(PodLifecycle, GracefulStopLetsTheContainerExitOnItsOwn) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods",
                    simple_pod("polite", {"sh", "-c", "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done"}));
    k.wait_pod("polite", [&](const nlohmann::json&) { return k.logs("polite", "main") == "up\n"; });
    auto stopped = k.client().call("POST", "/v1/pods/polite/stop?timeout=30");
    EXPECT_EQ(stopped["containers"][0]["exitCode"], 0) << "SIGTERM handled: no SIGKILL";
    EXPECT_EQ(stopped["state"], "stopped");
    EXPECT_EQ(k.logs("polite", "main"), "up\nbye\n");
    // And it starts again.
    EXPECT_EQ(k.client().call("POST", "/v1/pods/polite/start")["state"], "running");
}

}  // namespace
}  // namespace kiln::testing
