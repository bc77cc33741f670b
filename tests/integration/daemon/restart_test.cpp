// Restart policies: on-failure with a retry limit, always, never; back-off between restarts.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(RestartPolicy, OnFailureStopsAfterMaxRetries) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("flaky", {"sh", "-c", "echo run; exit 3"});
    pod["restartPolicy"] = {{"policy", "on-failure"}, {"maxRetries", 2}, {"backoff", {{"initial", 0.05}, {"max", 0.1}}}};
    k.client().call("POST", "/v1/pods", pod);
    auto p = k.wait_pod("flaky", [](const json& p) {
        return p["state"] != "running" && p["containers"][0]["restartCount"] == 2;
    });
    EXPECT_EQ(p["containers"][0]["restartCount"], 2);
    EXPECT_EQ(p["containers"][0]["exitCode"], 3);
    EXPECT_EQ(p["state"], "failed");
    // Three runs in the log: the first and two restarts.
    std::string logs = k.logs("flaky", "main");
    EXPECT_EQ(logs, "run\nrun\nrun\n");
}

TEST(RestartPolicy, OnFailureDoesNotRestartSuccess) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("ok", {"true"});
    pod["restartPolicy"] = "on-failure";
    k.client().call("POST", "/v1/pods", pod);
    auto p = k.wait_pod("ok", [](const json& p) { return p["state"] == "stopped"; });
    EXPECT_EQ(p["containers"][0]["restartCount"], 0);
}

TEST(RestartPolicy, AlwaysRestartsUntilStopped) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("loop", {"true"});
    pod["restartPolicy"] = {{"policy", "always"}, {"backoff", {{"initial", 0.05}, {"max", 0.05}}}};
    k.client().call("POST", "/v1/pods", pod);
    k.wait_pod("loop", [](const json& p) { return p["containers"][0]["restartCount"] >= 3; });
    auto stopped = k.client().call("POST", "/v1/pods/loop/stop?timeout=1");
    EXPECT_EQ(stopped["state"], "stopped");
    int count = stopped["containers"][0]["restartCount"];
    // Stopped means no more restarts.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto later = k.client().call("GET", "/v1/pods/loop");
    EXPECT_EQ(later["containers"][0]["restartCount"], count);
    EXPECT_EQ(later["state"], "stopped");
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

TEST(RestartPolicy, AlwaysBringsAPodBackWhenItsSandboxDies) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("phoenix", {"sleep", "1000"});
    pod["restartPolicy"] = {{"policy", "always"}, {"backoff", {{"initial", 0.05}, {"max", 0.05}}}};
    auto created = k.client().call("POST", "/v1/pods", pod);
    int sandbox = created["sandbox"]["pid"];
    int first = created["containers"][0]["pid"];
    ASSERT_EQ(::kill(sandbox, SIGKILL), 0);
    auto back = k.wait_pod("phoenix", [&](const json& p) {
        return p["state"] == "running" && p["sandbox"].value("pid", 0) != sandbox && p["containers"][0].value("pid", 0) != first;
    });
    EXPECT_EQ(back["state"], "running");
    EXPECT_NE(::kill(first, 0), 0) << "the old container went with its sandbox";
}

TEST(RestartPolicy, NeverFailsThePodWhenItsSandboxDies) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto created = k.client().call("POST", "/v1/pods", simple_pod("once", {"sleep", "1000"}));
    int sandbox = created["sandbox"]["pid"];
    ASSERT_EQ(::kill(sandbox, SIGKILL), 0);
    auto p = k.wait_pod("once", [](const json& p) { return p["state"] == "failed"; });
    EXPECT_NE(p.value("error", "").find("sandbox"), std::string::npos) << p.dump();
}

}  // namespace
}  // namespace kiln::testing
