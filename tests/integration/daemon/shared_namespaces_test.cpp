// The containers of a pod share net, ipc and uts namespaces (pid on request), checked from
// inside: the same namespace inodes and the same hostname; mount namespaces stay their own.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

std::map<std::string, std::string> fields(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

TEST(PodNamespaces, TwoContainersShareNetIpcUtsButNotMount) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string script =
        "echo net=$(readlink /proc/self/ns/net); echo ipc=$(readlink /proc/self/ns/ipc); "
        "echo uts=$(readlink /proc/self/ns/uts); echo mnt=$(readlink /proc/self/ns/mnt); "
        "echo pid=$(readlink /proc/self/ns/pid); echo host=$(hostname); echo done=1; exec sleep 1000";
    json pod = {{"name", "pair"},
                {"hostname", "pairhost"},
                {"networks", {"none"}},
                {"containers",
                 {{{"name", "a"}, {"image", "busybox"}, {"command", {"sh", "-c", script}}},
                  {{"name", "b"}, {"image", "busybox"}, {"command", {"sh", "-c", script}}}}}};
    k.client().call("POST", "/v1/pods", pod);
    k.wait_pod("pair", [&](const json&) {
        return k.logs("pair", "a").find("done=1") != std::string::npos &&
               k.logs("pair", "b").find("done=1") != std::string::npos;
    });
    auto a = fields(k.logs("pair", "a")), b = fields(k.logs("pair", "b"));
    EXPECT_EQ(a["net"], b["net"]);
    EXPECT_EQ(a["ipc"], b["ipc"]);
    EXPECT_EQ(a["uts"], b["uts"]);
    EXPECT_NE(a["mnt"], b["mnt"]);
    EXPECT_NE(a["pid"], b["pid"]) << "pid is shared only on request";
    EXPECT_EQ(a["host"], "pairhost");
    EXPECT_EQ(b["host"], "pairhost");
    auto self_net = sh("readlink /proc/self/ns/net").out;
    EXPECT_NE(a["net"] + "\n", self_net) << "the pod has its own network namespace";
}

TEST(PodNamespaces, SharePidPutsContainersInOnePidNamespace) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string script = "echo pid=$(readlink /proc/self/ns/pid); exec sleep 1000";
    json pod = {{"name", "pids"},
                {"sharePid", true},
                {"networks", {"none"}},
                {"containers",
                 {{{"name", "a"}, {"image", "busybox"}, {"command", {"sh", "-c", script}}},
                  {{"name", "b"}, {"image", "busybox"}, {"command", {"sh", "-c", script}}}}}};
    k.client().call("POST", "/v1/pods", pod);
    k.wait_pod("pids", [&](const json&) {
        return k.logs("pids", "a").find("pid=") != std::string::npos && k.logs("pids", "b").find("pid=") != std::string::npos;
    });
    EXPECT_EQ(fields(k.logs("pids", "a"))["pid"], fields(k.logs("pids", "b"))["pid"]);
    // Both see each other's processes.
    auto ps = k.client().call("POST", "/v1/pods/pids/containers/a/exec", json{{"command", {"ps"}}});
    std::string out = ps["stdout"];
    EXPECT_GE(std::count(out.begin(), out.end(), '\n'), 4) << out;
}

}  // namespace
}  // namespace kiln::testing
