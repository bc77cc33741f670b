// exec: a process joining a running container (namespaces, cgroup, user, env, cwd, caps), from
// flags or from --process, attached or detached, and its errors.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

class Exec : public ::testing::Test {
protected:
    void SetUp() override {
        if (!is_root()) GTEST_SKIP() << "needs root";
        bundle_.config["hostname"] = "exec-box";
        bundle_.config["process"]["env"] = {"PATH=/bin", "FROM_CONFIG=yes"};
        bundle_.save();
        id_ = unique_id();
        Result r = k_({"run", "-d", "--bundle", bundle_.dir(), id_});
        ASSERT_EQ(r.code, 0) << r.err;
        init_ = k_.state(id_)["pid"];
    }
    void TearDown() override {
        if (id_.empty()) return;
        EXPECT_EQ(k_({"delete", "--force", id_}).code, 0);
        expect_no_leftovers(k_, id_);
    }
    std::string ns_of(int pid, const char* ns) {
        return fs::read_symlink("/proc/" + std::to_string(pid) + "/ns/" + ns).string();
    }

    Kiln k_;
    Bundle bundle_{{"sleep", "1000"}, true};
    std::string id_;
    int init_ = 0;
};

TEST_F(Exec, JoinsTheContainer) {
    Result r = k_({"exec", id_, "sh", "-c",
                   "hostname; echo $FROM_CONFIG; readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/pid 2>/dev/null;"
                   " for n in net mnt pid uts ipc; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup | grep pids; "
                   "ps | grep -c '[s]leep 1000'"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("exec-box\nyes\n"), std::string::npos) << r.out;
    for (const char* n : {"net", "mnt", "pid", "uts", "ipc"})
        EXPECT_NE(r.out.find(ns_of(init_, n)), std::string::npos) << n << " " << r.out;
    std::ifstream cg("/proc/" + std::to_string(init_) + "/cgroup");
    std::string line, pids_line;
    while (std::getline(cg, line))
        if (line.find(":pids:") != std::string::npos) pids_line = line;
    // Inside, the cgroup namespace shows the container's cgroup as "/".
    EXPECT_NE(r.out.find(":pids:/\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1\n"), std::string::npos) << "the container's sleep is visible: " << r.out;
}

TEST_F(Exec, ExitCodeEnvCwdUser) {
    Result r = k_({"exec", "--env", "EXTRA=1", "--env", "FROM_CONFIG=overridden", "--cwd", "/tmp", "--user", "1000:1000",
                   id_, "sh", "-c", "echo $EXTRA $FROM_CONFIG; pwd; id -u; id -g; exit 5"});
    EXPECT_EQ(r.code, 5) << r.err;
    EXPECT_EQ(r.out, "1 overridden\n/tmp\n1000\n1000\n");
}

TEST_F(Exec, ProcessFile) {
    TempDir t;
    nlohmann::json p = {{"terminal", false},
                        {"user", {{"uid", 0}, {"gid", 0}}},
                        {"args", {"sh", "-c", "echo from-process-file; grep NoNewPrivs /proc/self/status"}},
                        {"env", {"PATH=/bin"}},
                        {"cwd", "/"},
                        {"noNewPrivileges", true}};
    std::ofstream(t.path() + "/p.json") << p.dump();
    Result r = k_({"exec", "--process", t.path() + "/p.json", id_});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "from-process-file\nNoNewPrivs:\t1\n");
    std::ofstream(t.path() + "/bad.json") << R"({"args": ["true"], "cwd": "/", "user": {"uid": "root", "gid": 0}})";
    Result bad = k_({"exec", "--process", t.path() + "/bad.json", id_});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.err.find("process.user.uid: expected an unsigned integer, got a string"), std::string::npos) << bad.err;
}

TEST_F(Exec, DetachedWithPidFileAndCapability) {
    TempDir t;
    std::string pidfile = t.path() + "/exec.pid";
    Result r = k_({"exec", "--detach", "--pid-file", pidfile, "--cap", "CAP_SYS_ADMIN", id_, "sleep", "1000"});
    ASSERT_EQ(r.code, 0) << r.err;
    int pid = 0;
    std::ifstream(pidfile) >> pid;
    ASSERT_GT(pid, 0);
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line, capbnd;
    while (std::getline(status, line))
        if (line.rfind("CapBnd:", 0) == 0) capbnd = line;
    uint64_t bnd = std::stoull(capbnd.substr(capbnd.find('\t') + 1), nullptr, 16);
    EXPECT_TRUE(bnd & (1ULL << 21)) << "CAP_SYS_ADMIN added to the bounding set: " << capbnd;
    auto pids = nlohmann::json::parse(k_({"ps", "--format", "json", id_}).out);
    EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end()) << "the exec'd process is in the cgroup";
}

TEST_F(Exec, Errors) {
    Result missing = k_({"exec", id_, "no-such-binary"});
    EXPECT_NE(missing.code, 0);
    EXPECT_NE(missing.err.find("executable file not found in $PATH"), std::string::npos) << missing.err;
    Result no_cmd = k_({"exec", id_});
    EXPECT_NE(no_cmd.code, 0);
    Result unknown = k_({"exec", "no-such-container", "true"});
    EXPECT_NE(unknown.err.find("does not exist"), std::string::npos) << unknown.err;
    ASSERT_EQ(k_({"pause", id_}).code, 0);
    Result paused = k_({"exec", id_, "true"});
    EXPECT_NE(paused.err.find("paused"), std::string::npos) << paused.err;
    ASSERT_EQ(k_({"resume", id_}).code, 0);
    Result badcap = k_({"exec", "--cap", "CAP_NOPE", id_, "true"});
    EXPECT_NE(badcap.err.find("unknown capability \"CAP_NOPE\""), std::string::npos) << badcap.err;
}

TEST_F(Exec, PreservedFdsAreOnlyTheCallersOwn) {
    TempDir t;
    std::string pidfile = t.path() + "/pid";
    // Only fd 3 is open; the rest of 3..42 is free, where the runtime's own fds (its sync socket
    // among them) get their numbers: none of them may reach the process.
    Result r = run({"bash", "-c", "exec 3< <(echo via-fd-3); for i in $(seq 4 64); do eval \"exec $i>&-\"; done; " +
                                      runtime_binary() + " --root " + k_.root() + " exec -d --pid-file " + pidfile +
                                      " --preserve-fds 40 " + id_ + " sleep 1000 </dev/null >/dev/null 2>" + t.path() +
                                      "/err; cat " + t.path() + "/err"});
    ASSERT_EQ(r.code, 0) << r.out;
    int pid = 0;
    std::ifstream(pidfile) >> pid;
    ASSERT_GT(pid, 0);
    auto fds = open_fds(pid);
    ASSERT_EQ(fds.size(), 4u) << ::testing::PrintToString(fds);
    EXPECT_EQ(fds[3].rfind("3 pipe:", 0), 0u) << fds[3];
    Result negative = k_({"exec", "--preserve-fds", "-1", id_, "true"});
    EXPECT_NE(negative.code, 0);
    EXPECT_NE(negative.err.find("--preserve-fds: Value -1 not in range 0 to"), std::string::npos) << negative.err;
}

TEST_F(Exec, TerminalProxiedWhenAttached) {
    Result r = k_({"exec", "-t", id_, "sh", "-c", "test -t 1 && echo tty-yes"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("tty-yes"), std::string::npos) << r.out;
}

TEST(ExecStopped, RefusedForAStoppedContainer) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    std::string id = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", b.dir(), id}).code, 0);
    for (int i = 0; i < 200 && k.state(id)["status"] != "stopped"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    Result r = k({"exec", id, "true"});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("stopped"), std::string::npos) << r.err;
    EXPECT_EQ(k({"delete", id}).code, 0);
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
