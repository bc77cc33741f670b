// A pod's sandbox: kiln-pause, started by kilnd without a monitor or the runtime. Its holder owns
// the pod's namespaces with no privilege left and nothing of the host behind its root; it dies
// with its launcher; a failed set-up says what failed and leaves no process.
#include <fcntl.h>
#include <unistd.h>

#include "core/sys/spawn.hpp"
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

const std::string kPause = std::string(KILN_BUILD_DIR) + "/bin/kiln-pause";

std::string status_field(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0) {
            std::string v = line.substr(key.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "";
}

TEST(PodSandbox, HolderHasNoPrivilegeAndAnEmptyRoot) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto created = k.client().call("POST", "/v1/pods", simple_pod("sb", {"sleep", "1000"}));
    pid_t holder = created["sandbox"]["pid"];
    ASSERT_GT(holder, 0);
    EXPECT_EQ(status_field(holder, "Uid"), "65534\t65534\t65534\t65534");
    EXPECT_EQ(status_field(holder, "Gid"), "65534\t65534\t65534\t65534");
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
        EXPECT_EQ(status_field(holder, set), "0000000000000000") << set;
    EXPECT_EQ(status_field(holder, "NoNewPrivs"), "1");
    EXPECT_EQ(sh("ls -A /proc/" + std::to_string(holder) + "/root/").out, "") << "the holder's root is an empty tmpfs";
    // The container lives in the holder's network namespace, with the loopback interface up.
    auto ex = k.client().call("POST", "/v1/pods/sb/containers/main/exec",
                              json{{"command", {"sh", "-c", "readlink /proc/self/ns/net; cat /sys/class/net/lo/flags"}}});
    std::string holder_net = sh("readlink /proc/" + std::to_string(holder) + "/ns/net").out;
    EXPECT_EQ(ex["stdout"], holder_net + "0x9\n");
}

TEST(PodSandbox, ASharedPidNamespaceShowsNothingOfTheHostThroughPid1) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("sp", {"sleep", "1000"});
    pod["sharePid"] = true;
    k.client().call("POST", "/v1/pods", pod);
    auto ex = k.client().call("POST", "/v1/pods/sp/containers/main/exec",
                              json{{"command", {"sh", "-c", "cat /proc/1/comm; ls -A /proc/1/root/ 2>&1; echo rc=$?"}}});
    std::string out = ex["stdout"];
    EXPECT_EQ(out.substr(0, out.find('\n')), "kiln-pause") << out;
    // Not dumpable and of another uid: its root cannot be opened at all.
    EXPECT_NE(out.find("ermission denied"), std::string::npos) << out;
    EXPECT_EQ(out.find("etc"), std::string::npos) << out;
}

TEST(PodSandbox, TheHolderDiesWithItsLauncherAndThePodFails) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    auto created = k.client().call("POST", "/v1/pods", simple_pod("orphan", {"sleep", "1000"}));
    pid_t launcher = created["sandbox"]["monitorPid"], holder = created["sandbox"]["pid"];
    ASSERT_NE(launcher, holder);
    ASSERT_EQ(::kill(launcher, SIGKILL), 0);
    auto p = k.wait_pod("orphan", [](const json& p) { return p["state"] == "failed"; });
    EXPECT_NE(p.value("error", "").find("sandbox"), std::string::npos) << p.dump();
    // Gone, not merely orphaned (a zombie counts as gone).
    std::string state = sh("awk '{print $3}' /proc/" + std::to_string(holder) + "/stat 2>/dev/null").out;
    EXPECT_TRUE(state.empty() || state == "Z\n") << state;
}

// Live (not zombie) kiln-pause processes.
std::string live_pauses() {
    return sh("for p in $(pgrep -x kiln-pause); do [ \"$(awk '{print $3}' /proc/$p/stat 2>/dev/null)\" = Z ] || echo $p; done").out;
}

// kiln-pause run by hand, as kilnd runs it: fd 3 for the report.
Result run_pause(const std::vector<std::string>& args) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return {};
    std::vector<std::string> argv{kPause, "--report-fd", "3"};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions so;
    so.extra_fds.emplace_back(p[1], 3);
    pid_t pid = spawn(argv, so);
    ::close(p[1]);
    Result r;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    if (r.out.rfind("error: ", 0) == 0) {
        r.code = wait_child(pid);
    } else if (!r.out.empty()) {
        ::kill(pid, SIGTERM);
        r.code = wait_child(pid);
    }
    return r;
}

TEST(PodSandbox, AFailedSetUpIsReportedAndLeavesNoProcess) {
    KILN_REQUIRE_ROOT();
    std::string before = live_pauses();
    auto r = run_pause({"--root", "/nonexistent/kiln-sandbox-root", "--net", "--hostname", "x"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "error: mounting an empty tmpfs on /nonexistent/kiln-sandbox-root: No such file or directory");
    EXPECT_EQ(live_pauses(), before) << "the holder went with the failure";

    r = run_pause({"--root", "/tmp", "--bogus"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.out, "error: unknown argument --bogus");
    r = run_pause({"--net"});
    EXPECT_EQ(r.out, "error: --root is required");
    r = run_pause({"--root", "/tmp", "--cgroup-v1-fd", "x"});
    EXPECT_EQ(r.out, "error: --cgroup-v1-fd x: not an fd number");
}

TEST(PodSandbox, WithoutItsReportFdItSaysWhoStartsIt) {
    for (const auto& argv : {std::vector<std::string>{kPause, "--root", "/tmp"},
                             std::vector<std::string>{kPause, "--report-fd", "x", "--root", "/tmp"},
                             std::vector<std::string>{kPause, "--report-fd", "999", "--root", "/tmp"}}) {
        auto r = run(argv);
        EXPECT_EQ(r.code, 2) << argv[1];
        EXPECT_NE(r.err.find("--report-fd must name an open fd"), std::string::npos) << r.err;
    }
}

}  // namespace
}  // namespace kiln::testing
