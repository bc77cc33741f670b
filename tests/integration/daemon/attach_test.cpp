// Attach: a WebSocket to a running container's stdio through its monitor: output as it comes,
// stdin when the pod asked for it, and the exit code at the end.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Attach, StdinInOutputOutExitCodeAtTheEnd) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("talk", {"sh", "-c", "echo ready; read line; echo got:$line; echo bye >&2; exit 6"});
    pod["containers"][0]["stdin"] = true;
    k.client().call("POST", "/v1/pods", pod);
    auto ws = k.client().websocket("/v1/pods/talk/containers/main/attach?stdin=true");
    ws->send_binary("hello\n");
    auto session = read_session(*ws);
    const std::string& out = session.out;
    const std::string& err = session.err;
    int code = session.exit_code;
    EXPECT_EQ(code, 6);
    EXPECT_NE(out.find("got:hello"), std::string::npos) << out;
    EXPECT_EQ(err, "bye\n");
    auto p = k.wait_pod("talk", [](const json& p) { return p["containers"][0]["state"] != "running"; });
    EXPECT_EQ(p["containers"][0]["exitCode"], 6);
    // The log has everything, including what came before the attach.
    EXPECT_EQ(k.logs("talk", "main"), "ready\ngot:hello\nbye\n");
}

TEST(Attach, RefusedForAStoppedContainer) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods", simple_pod("gone", {"true"}));
    k.wait_pod("gone", [](const json& p) { return p["state"] == "stopped"; });
    try {
        k.client().websocket("/v1/pods/gone/containers/main/attach");
        ADD_FAILURE() << "attach to a stopped container was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::failed_precondition) << e.what();
    }
}

}  // namespace
}  // namespace kiln::testing
