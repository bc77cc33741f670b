// Exec without an upgrade: stdout, stderr and the exit code as JSON; the process runs in the
// container (its hostname, its rootfs) with the request's env, cwd and user.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Exec, PlainReturnsOutputAndExitCode) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("box", {"sleep", "1000"});
    pod["hostname"] = "boxhost";
    k.client().call("POST", "/v1/pods", pod);
    std::string target = "/v1/pods/box/containers/main/exec";
    auto r = k.client().call("POST", target,
                             json{{"command", {"sh", "-c", "hostname; echo $FOO; pwd; id -u; echo oops >&2; exit 5"}},
                                  {"env", {"FOO=bar"}},
                                  {"workingDir", "/tmp"},
                                  {"user", "nobody"}});
    EXPECT_EQ(r["exitCode"], 5);
    EXPECT_EQ(r["stdout"], "boxhost\nbar\n/tmp\n65534\n");
    EXPECT_EQ(r["stderr"], "oops\n");

    auto in = k.client().call("POST", target, json{{"command", {"cat"}}, {"stdin", "fed\n"}});
    EXPECT_EQ(in["stdout"], "fed\n");

    auto bad = k.client().request("POST", target, json{{"command", "ls"}});
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("command"), std::string::npos) << bad.body;
    EXPECT_EQ(k.client().request("POST", "/v1/pods/box/containers/nope/exec", json{{"command", {"ls"}}}).status, 404);
    // A command that cannot run is kiln's error, not the process's exit code.
    auto missing = k.client().request("POST", target, json{{"command", {"/no/such/tool"}}});
    EXPECT_EQ(missing.status, 412) << missing.body;
    EXPECT_NE(missing.body.find("/no/such/tool"), std::string::npos) << missing.body;
}

TEST(Exec, RefusedWhenTheContainerIsNotRunning) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods", simple_pod("done", {"true"}));
    k.wait_pod("done", [](const json& p) { return p["state"] == "stopped"; });
    auto r = k.client().request("POST", "/v1/pods/done/containers/main/exec", json{{"command", {"ls"}}});
    EXPECT_EQ(r.status, 412) << r.body;
}

TEST(Exec, WebSocketWithTerminal) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    k.client().call("POST", "/v1/pods", simple_pod("tty", {"sleep", "1000"}));
    auto ws = k.client().websocket("/v1/pods/tty/containers/main/exec");
    ws->send_text(json{{"command", {"sh", "-c", "tty; read line; echo got:$line; exit 4"}}, {"tty", true}}.dump());
    ws->send_binary("hello\r");
    auto session = read_session(*ws);
    const std::string& out = session.out;  // a terminal has one stream
    int code = session.exit_code;
    EXPECT_EQ(code, 4);
    EXPECT_NE(out.find("/dev/pts/"), std::string::npos) << out;
    EXPECT_NE(out.find("got:hello"), std::string::npos) << out;
}

}  // namespace
}  // namespace kiln::testing
