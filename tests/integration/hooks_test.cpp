// Hooks: each kind at its moment of the lifecycle, in order, with the state on stdin, in the
// right namespace; timeouts; a failing hook failing what the spec says it fails.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

// A hook script that appends "<name> <status from the state JSON> <mount ns inode>" to `log`.
std::string write_hook(const std::string& dir, const std::string& name, const std::string& log) {
    std::string path = dir + "/" + name + ".sh";
    std::ofstream(path) << "#!/bin/sh\n"
                        << "state=$(cat)\n"
                        << "status=$(echo \"$state\" | sed -n 's/.*\"status\":\"\\([a-z]*\\)\".*/\\1/p')\n"
                        << "id=$(echo \"$state\" | sed -n 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/p')\n"
                        << "echo \"" << name << " $status $id $(stat -L -c %i /proc/self/ns/mnt)\" >> " << log << "\n";
    chmod(path.c_str(), 0755);
    return path;
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

TEST(Hooks, EveryKindInOrderWithTheState) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    chmod(t.path().c_str(), 0755);
    std::string log = t.path() + "/log";
    Bundle b({"sh", "-c", "echo process >> /hooklog/log"});
    // The container sees the same log through a bind mount.
    b.config["mounts"].push_back({{"destination", "/hooklog"}, {"type", "bind"}, {"source", t.path()}, {"options", {"bind"}}});
    // createContainer and startContainer run inside the container: their script must be found
    // there too, so it lives in the bind-mounted directory and the container sees it at the same
    // path through a second mount.
    b.config["mounts"].push_back({{"destination", t.path()}, {"type", "bind"}, {"source", t.path()}, {"options", {"bind"}}});
    nlohmann::json hooks;
    for (const char* kind : {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"})
        hooks[kind] = {{{"path", write_hook(t.path(), kind, log)}}};
    b.config["hooks"] = hooks;
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    auto lines = lines_of(log);
    std::vector<std::string> names, statuses, ids, mntns;
    for (const auto& l : lines) {
        std::istringstream f(l);
        std::string n, s, i, m;
        f >> n >> s >> i >> m;
        names.push_back(n);
        statuses.push_back(s);
        ids.push_back(i);
        mntns.push_back(m);
    }
    ASSERT_EQ(names.size(), 7u) << r.err;
    EXPECT_EQ(names[0], "prestart");
    EXPECT_EQ(names[1], "createRuntime");
    EXPECT_EQ(names[2], "createContainer");
    EXPECT_EQ(names[3], "startContainer");
    // poststart and the process race (the spec orders poststart after the start of the process,
    // not after its first output); poststop comes last.
    std::vector<std::string> middle = {names[4], names[5]};
    std::sort(middle.begin(), middle.end());
    EXPECT_EQ(middle, (std::vector<std::string>{"poststart", "process"}));
    EXPECT_EQ(names[6], "poststop");
    EXPECT_EQ(statuses[0], "creating");
    EXPECT_EQ(statuses[1], "creating");
    EXPECT_EQ(statuses[2], "creating");
    EXPECT_EQ(statuses[3], "created");
    EXPECT_EQ(statuses[6], "stopped");
    for (size_t i = 0; i < ids.size(); ++i) {
        if (names[i] != "process") {
            EXPECT_EQ(ids[i], id) << names[i];
        }
    }
    // Runtime-namespace hooks see the host's mount namespace; container-namespace hooks do not.
    struct stat host;
    stat("/proc/self/ns/mnt", &host);
    std::string host_mnt = std::to_string(host.st_ino);
    EXPECT_EQ(mntns[0], host_mnt);
    EXPECT_EQ(mntns[1], host_mnt);
    EXPECT_NE(mntns[2], host_mnt) << "createContainer runs in the container's mount namespace";
    EXPECT_NE(mntns[3], host_mnt) << "startContainer runs in the container's mount namespace";
    EXPECT_EQ(mntns[6], host_mnt);
    expect_no_leftovers(k, id);
}

TEST(Hooks, FailingPrestartFailsCreateAndCleansUp) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    std::string log = t.path() + "/log";
    std::string bad = t.path() + "/bad.sh";
    std::ofstream(bad) << "#!/bin/sh\necho refusing >&2\nexit 3\n";
    chmod(bad.c_str(), 0755);
    Bundle b({"true"});
    b.config["hooks"] = {{"prestart", {{{"path", bad}}}}, {"poststop", {{{"path", write_hook(t.path(), "poststop", log)}}}}};
    b.save();
    std::string id = unique_id();
    Result r = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("hooks.prestart[0]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("exited with status 3"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("refusing"), std::string::npos) << "the hook's output is in the error: " << r.err;
    auto lines = lines_of(log);
    ASSERT_EQ(lines.size(), 1u) << "the spec continues with delete, which runs poststop";
    EXPECT_EQ(lines[0].rfind("poststop stopped", 0), 0u);
    expect_no_leftovers(k, id);

    // A hook that cannot be started at all.
    b.config["hooks"]["prestart"][0]["path"] = t.path() + "/missing";
    b.save();
    Result missing = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(missing.code, 0);
    EXPECT_NE(missing.err.find("hooks.prestart[0]: spawn `" + t.path() + "/missing`: No such file or directory"),
              std::string::npos)
        << missing.err;
    expect_no_leftovers(k, id);
}

TEST(Hooks, TimeoutKillsTheHookAndFailsCreate) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    std::string slow = t.path() + "/slow.sh";
    std::string pidfile = t.path() + "/hook.pid";
    std::ofstream(slow) << "#!/bin/sh\necho $$ > " << pidfile << "\nexec sleep 30\n";
    chmod(slow.c_str(), 0755);
    Bundle b({"true"});
    b.config["hooks"] = {{"createRuntime", {{{"path", slow}, {"timeout", 1}}}}};
    b.save();
    std::string id = unique_id();
    auto start = std::chrono::steady_clock::now();
    Result r = k({"create", "--bundle", b.dir(), id});
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("hooks.createRuntime[0]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("did not finish within 1s"), std::string::npos) << r.err;
    EXPECT_LT(took, std::chrono::seconds(20)) << "the hook was not killed at its timeout";
    int pid = 0;
    std::ifstream(pidfile) >> pid;
    ASSERT_GT(pid, 0);
    EXPECT_FALSE(fs::exists("/proc/" + std::to_string(pid))) << "the timed-out hook is still there";
    expect_no_leftovers(k, id);
}

TEST(Hooks, FailingCreateContainerHookFailsCreate) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    chmod(t.path().c_str(), 0755);
    std::string bad = t.path() + "/bad.sh";
    std::ofstream(bad) << "#!/bin/sh\nexit 9\n";
    chmod(bad.c_str(), 0755);
    Bundle b({"true"});
    b.config["hooks"] = {{"createContainer", {{{"path", bad}, {"args", {"bad.sh", "arg1"}}}}}};
    b.save();
    std::string id = unique_id();
    Result r = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("hooks.createContainer[0]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("exited with status 9"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Hooks, FailingPoststartAndPoststopOnlyWarn) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    std::string bad = t.path() + "/bad.sh";
    std::ofstream(bad) << "#!/bin/sh\nexit 1\n";
    chmod(bad.c_str(), 0755);
    Bundle b({"sh", "-c", "echo ran"});
    b.config["hooks"] = {{"poststart", {{{"path", bad}}}}, {"poststop", {{{"path", bad}}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "ran\n");
    EXPECT_NE(r.err.find("hooks.poststart[0]"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("hooks.poststop[0]"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Hooks, ArgsAndEnvReachTheHook) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    std::string out = t.path() + "/out";
    Bundle b({"true"});
    // args[0] is the hook's argv[0], which a shell shows as $0 with -c.
    b.config["hooks"] = {{"prestart",
                          {{{"path", "/bin/sh"},
                            {"args", {"sh", "-c", "echo \"$0 $1 $2 $GREETING\" > " + out, "hook-name", "a", "b"}},
                            {"env", {"GREETING=hi"}}}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(lines_of(out), std::vector<std::string>{"hook-name a b hi"});
    expect_no_leftovers(k, id);
}

TEST(Hooks, HooksStartWithNoSignalBlockedOrIgnored) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    chmod(t.path().c_str(), 0755);
    Bundle b({"true"});
    b.config["mounts"].push_back({{"destination", "/hooklog"}, {"type", "bind"}, {"source", t.path()}, {"options", {"bind"}}});
    // `run` blocks the signals it forwards; neither the runtime-side hook nor those init runs
    // may inherit that. createContainer runs before the pivot: it sees the host's paths.
    auto hook = [](const std::string& name, const std::string& log) {
        return nlohmann::json::array({{{"path", "/bin/sh"},
                                       {"args", {"sh", "-c", "echo " + name + " $(grep -E '^Sig(Blk|Ign)' /proc/self/status) >> " + log}}}});
    };
    b.config["hooks"] = {{"prestart", hook("prestart", t.path() + "/log")},
                         {"createContainer", hook("createContainer", t.path() + "/log")},
                         {"startContainer", hook("startContainer", "/hooklog/log")}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    auto lines = lines_of(t.path() + "/log");
    ASSERT_EQ(lines.size(), 3u) << r.err;
    for (const auto& l : lines)
        EXPECT_NE(l.find("SigBlk: 0000000000000000 SigIgn: 0000000000000000"), std::string::npos) << l;
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
