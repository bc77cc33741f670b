// The kiln CLI against a kilnd: run with the exit code and output, -d, ps, exec, logs, stop, rm,
// image ls, apply; errors in one line with a non-zero exit.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

TEST(Cli, RunStreamsOutputAndExitsWithTheCode) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    auto imp = k.cli({"image", "import", "--tag", "busybox", busybox_layout()});
    ASSERT_EQ(imp.code, 0) << imp.err;
    auto r = k.cli({"run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"});
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    EXPECT_EQ(k.client().call("GET", "/v1/pods").size(), 0u) << "--rm deleted the pod";

    auto env = k.cli({"run", "--rm", "--network", "none", "-e", "A=b", "--memory", "32m", "busybox", "sh", "-c",
                      "echo $A; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max"});
    EXPECT_EQ(env.code, 0) << env.err;
    EXPECT_EQ(env.out, "b\n33554432\n");
}

TEST(Cli, DetachedPodPsExecLogsStopRm) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto d = k.cli({"run", "-d", "--name", "svc", "--network", "none", "busybox", "sh", "-c", "echo ready; exec sleep 1000"});
    ASSERT_EQ(d.code, 0) << d.err;
    EXPECT_EQ(d.out, "svc\n");
    auto ps = k.cli({"ps"});
    EXPECT_EQ(ps.code, 0);
    EXPECT_NE(ps.out.find("NAME"), std::string::npos);
    EXPECT_NE(ps.out.find("svc"), std::string::npos) << ps.out;
    auto psj = k.cli({"ps", "--format", "json"});
    EXPECT_EQ(json::parse(psj.out)[0]["name"], "svc");
    auto ex = k.cli({"exec", "svc", "sh", "-c", "echo in; exit 2"});
    EXPECT_EQ(ex.code, 2);
    EXPECT_EQ(ex.out, "in\n");
    k.wait_pod("svc", [&](const json&) { return k.logs("svc", "svc") == "ready\n"; });
    auto logs = k.cli({"logs", "svc"});
    EXPECT_EQ(logs.out, "ready\n");
    EXPECT_EQ(k.cli({"stop", "-t", "0", "svc"}).code, 0);
    EXPECT_EQ(k.cli({"ps"}).out.find("svc"), std::string::npos);
    EXPECT_NE(k.cli({"ps", "-a"}).out.find("svc"), std::string::npos);
    EXPECT_EQ(k.cli({"rm", "svc"}).code, 0);
    auto gone = k.cli({"inspect", "svc"});
    EXPECT_NE(gone.code, 0);
    EXPECT_NE(gone.err.find("svc"), std::string::npos);
    EXPECT_EQ(std::count(gone.err.begin(), gone.err.end(), '\n'), 1) << "one line: " << gone.err;
    auto images = k.cli({"image", "ls"});
    EXPECT_NE(images.out.find("busybox:latest"), std::string::npos) << images.out;
}

TEST(Cli, ApplyCreatesReplacesAndKeeps) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string file = k.dir() + "/pods.yaml";
    auto write = [&](const std::string& cmd) {
        std::ofstream(file) << "pods:\n  - name: app\n    networks: [none]\n    containers:\n      - name: main\n"
                               "        image: busybox\n        command: [sh, -c, \"" + cmd + "\"]\n";
    };
    write("exec sleep 1000");
    auto a = k.cli({"apply", "-f", file});
    EXPECT_EQ(a.code, 0) << a.err;
    EXPECT_EQ(a.out, "app: created\n");
    EXPECT_EQ(k.cli({"apply", "-f", file}).out, "app: unchanged\n");
    write("exec sleep 999");
    EXPECT_EQ(k.cli({"apply", "-f", file}).out, "app: replaced\n");
    EXPECT_EQ(k.client().call("GET", "/v1/pods/app")["spec"]["containers"][0]["command"][2], "exec sleep 999");
    std::ofstream(file) << "pods:\n  - name: app\n    containers: 3\n";
    auto bad = k.cli({"apply", "-f", file});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.err.find("containers"), std::string::npos) << bad.err;
}

TEST(Cli, ConnectionErrorIsOneLine) {
    auto r = run({KILN_CLI_BINARY, "-H", "unix:///nonexistent/kiln.sock", "ps"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("/nonexistent/kiln.sock"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

TEST(Cli, BadArgumentsAreOneLineErrorsNamingTheFlag) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto one_line = [](const Result& r) { return std::count(r.err.begin(), r.err.end(), '\n') == 1; };
    auto memory = k.cli({"run", "--memory", "lots", "busybox", "true"});
    EXPECT_NE(memory.code, 0);
    EXPECT_NE(memory.err.find("--memory"), std::string::npos) << memory.err;
    EXPECT_TRUE(one_line(memory)) << memory.err;
    auto volume = k.cli({"run", "-v", "nocolon", "busybox", "true"});
    EXPECT_NE(volume.code, 0);
    EXPECT_NE(volume.err.find("--volume"), std::string::npos) << volume.err;
    auto no_image = k.cli({"run"});
    EXPECT_NE(no_image.code, 0);
    EXPECT_NE(no_image.err.find("image"), std::string::npos) << no_image.err;
    auto verb = k.cli({"frobnicate"});
    EXPECT_NE(verb.code, 0);
    EXPECT_TRUE(one_line(verb)) << verb.err;
    auto bad_name = k.cli({"run", "--name", "Not_A_Label", "busybox", "true"});
    EXPECT_NE(bad_name.code, 0);
    EXPECT_NE(bad_name.err.find("name"), std::string::npos) << bad_name.err;
    auto missing = k.cli({"run", "--rm", "nosuchimage", "true"});
    EXPECT_NE(missing.code, 0);
    EXPECT_NE(missing.err.find("nosuchimage"), std::string::npos) << missing.err;
    EXPECT_EQ(k.client().call("GET", "/v1/pods").size(), 0u) << "no pod was left by a failed run";
}

}  // namespace
}  // namespace kiln::testing
