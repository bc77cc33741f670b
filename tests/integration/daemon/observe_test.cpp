// Watching pods: events with a since= cursor, logs with tail and follow, stats from the cgroups.
#include <thread>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Events, LifecycleInOrderAndResumable) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods", simple_pod("ev", {"true"}));
    k.wait_pod("ev", [](const json& p) { return p["state"] == "stopped"; });
    k.client().call("DELETE", "/v1/pods/ev");

    std::vector<json> events;
    api::Client c(k.socket());
    api::SseParser parser;
    c.stream("/v1/events?since=0", [&](std::string_view chunk) {
        for (const auto& e : parser.feed(chunk)) events.push_back(json::parse(e.data));
        return events.empty() || events.back()["type"] != "pod.deleted";
    });
    std::vector<std::string> types;
    for (const auto& e : events) types.push_back(e["type"]);
    std::vector<std::string> want = {"pod.created", "container.started", "pod.started", "container.exited",
                                     "pod.stopped", "pod.deleted"};
    EXPECT_EQ(types, want);
    // Resuming after the second event gives the rest.
    std::vector<json> rest;
    api::SseParser p2;
    c.stream("/v1/events?since=" + std::to_string(events[1]["id"].get<int>()), [&](std::string_view chunk) {
        for (const auto& e : p2.feed(chunk)) rest.push_back(json::parse(e.data));
        return rest.size() < events.size() - 2;
    });
    ASSERT_EQ(rest.size(), events.size() - 2);
    EXPECT_EQ(rest[0]["id"], events[2]["id"]);
    EXPECT_EQ(k.client().request("GET", "/v1/events?since=abc").status, 400);
}

TEST(Logs, TailAndFollow) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods",
                    simple_pod("talk", {"sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; sleep 0.5; echo last"}));
    std::string followed;
    api::Client c(k.socket());
    c.stream("/v1/pods/talk/containers/main/logs?follow=true", [&](std::string_view chunk) {
        followed.append(chunk);
        return true;
    });
    // Follow ends when the container has ended, and saw everything.
    EXPECT_EQ(followed, "line1\nline2\nline3\nline4\nline5\nerr\nlast\n");
    auto tail = k.client().request("GET", "/v1/pods/talk/containers/main/logs?tail=2");
    EXPECT_EQ(tail.body, "err\nlast\n");
    auto stamped = k.client().request("GET", "/v1/pods/talk/containers/main/logs?tail=1&timestamps=true");
    EXPECT_EQ(stamped.body.substr(4, 1), "-");
    EXPECT_NE(stamped.body.find("Z last\n"), std::string::npos) << stamped.body;
    auto js = k.client().request("GET", "/v1/pods/talk/containers/main/logs?tail=2&format=json");
    auto first = json::parse(js.body.substr(0, js.body.find('\n')));
    EXPECT_EQ(first["stream"], "stderr");
    EXPECT_EQ(first["text"], "err");
    EXPECT_EQ(k.client().request("GET", "/v1/pods/talk/containers/main/logs?tail=x").status, 400);
}

TEST(Stats, CpuMemoryPidsFromTheCgroups) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("busy", {"sh", "-c", "sleep 1000 & sleep 1000 & wait"});
    pod["containers"][0]["resources"] = {{"memory", "64m"}, {"pids", 50}, {"cpus", 0.5}};
    k.client().call("POST", "/v1/pods", pod);
    json s;
    k.wait_pod("busy", [&](const json&) {
        s = k.client().call("GET", "/v1/pods/busy/stats");
        return s["containers"][0].value("pids", 0) >= 3;
    });
    const auto& c = s["containers"][0];
    EXPECT_EQ(c["memoryLimitBytes"], 64 << 20);
    EXPECT_EQ(c["pidsLimit"], 50);
    EXPECT_GT(c["memoryBytes"].get<long>(), 0);
    EXPECT_GE(c["cpuSeconds"].get<double>(), 0.0);
    EXPECT_GE(s["pids"].get<int>(), 3) << "the pod's cgroup counts its containers";
}

}  // namespace
}  // namespace kiln::testing
