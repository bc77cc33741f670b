// cgroups on this host's layout: limits written to each controller's files, absolute and relative
// cgroupsPath, the v2 hierarchy of a hybrid host, device rules, update, and a controller the host
// lacks refused only when asked for.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/cgroups/layout.hpp"
#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

std::string read_trimmed(const std::string& path) {
    std::ifstream in(path);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// The container's directory for `controller` on this host, from the layout.
std::string dir_of(const std::string& controller, const std::string& cgroup_path) {
    auto layout = cgroups::detect_layout();
    const auto* h = layout.find(controller);
    return h ? h->mount_point + cgroup_path : "";
}

// Runs a detached container with `resources` under `cgroup_path`, calls `check`, deletes it.
template <class Check>
void with_container(const nlohmann::json& resources, const std::string& cgroup_path, Check check) {
    Kiln k;
    Bundle b({"sleep", "100"});
    b.config["linux"]["resources"] = resources;
    b.config["linux"]["cgroupsPath"] = cgroup_path;
    b.save();
    std::string id = unique_id();
    Result r = k({"run", "-d", "--bundle", b.dir(), id});
    ASSERT_EQ(r.code, 0) << r.err;
    check(k, id);
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Cgroups, MemoryCpuPidsCpusetLimits) {
    KILN_REQUIRE_ROOT();
    std::string path = "/kiln-it/" + std::to_string(getpid()) + "/limits";
    nlohmann::json res = {{"memory", {{"limit", 64 << 20}, {"reservation", 32 << 20}, {"swap", 128 << 20}}},
                          {"cpu", {{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0"}, {"mems", "0"}}},
                          {"pids", {{"limit", 42}}}};
    with_container(res, path, [&](const Kiln&, const std::string&) {
        auto layout = cgroups::detect_layout();
        bool v1 = layout.mode != cgroups::Mode::unified;
        if (v1) {
            EXPECT_EQ(read_trimmed(dir_of("memory", path) + "/memory.limit_in_bytes"), "67108864");
            EXPECT_EQ(read_trimmed(dir_of("memory", path) + "/memory.soft_limit_in_bytes"), "33554432");
            if (fs::exists(dir_of("memory", path) + "/memory.memsw.limit_in_bytes")) {
                EXPECT_EQ(read_trimmed(dir_of("memory", path) + "/memory.memsw.limit_in_bytes"), "134217728");
            }
            EXPECT_EQ(read_trimmed(dir_of("cpu", path) + "/cpu.shares"), "512");
            EXPECT_EQ(read_trimmed(dir_of("cpu", path) + "/cpu.cfs_quota_us"), "50000");
            EXPECT_EQ(read_trimmed(dir_of("cpu", path) + "/cpu.cfs_period_us"), "100000");
        } else {
            EXPECT_EQ(read_trimmed(dir_of("memory", path) + "/memory.max"), "67108864");
            EXPECT_EQ(read_trimmed(dir_of("cpu", path) + "/cpu.max"), "50000 100000");
        }
        EXPECT_EQ(read_trimmed(dir_of("pids", path) + "/pids.max"), "42");
        EXPECT_EQ(read_trimmed(dir_of("cpuset", path) + "/cpuset.cpus"), "0");
    });
    // The parents this test named stay (they are the caller's); clean them.
    for (const auto& h : cgroups::detect_layout().hierarchies) {
        rmdir((h.mount_point + "/kiln-it/" + std::to_string(getpid())).c_str());
        rmdir((h.mount_point + "/kiln-it").c_str());
    }
}

TEST(Cgroups, LimitsAreSeenAndEnforcedInside) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // A pids limit of 3: sh plus two children, the third fork fails.
    Bundle b({"sh", "-c",
              "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max; "
              "sleep 5 & sleep 5 & sleep 5 & echo third=$?; wait"});
    b.config["linux"]["resources"] = {{"pids", {{"limit", 3}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(r.out.rfind("3\n", 0), 0u) << "pids.max seen inside through the cgroup namespace: " << r.out;
    EXPECT_NE(r.err.find("can't fork"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Cgroups, RelativePathIsBelowOurOwnCgroup) {
    KILN_REQUIRE_ROOT();
    std::string rel = "kiln-it-rel-" + std::to_string(getpid());
    with_container({{"pids", {{"limit", 10}}}}, rel, [&](const Kiln&, const std::string&) {
        std::ifstream self("/proc/self/cgroup");
        std::string line, mine;
        while (std::getline(self, line))
            if (line.find(":pids:") != std::string::npos) mine = line.substr(line.rfind(':') + 1);
        auto layout = cgroups::detect_layout();
        std::string base = layout.find("pids")->mount_point + (mine == "/" ? "" : mine);
        EXPECT_TRUE(fs::exists(base + "/" + rel + "/pids.max")) << base + "/" + rel;
    });
}

TEST(Cgroups, DefaultPathIsTheIdBelowTheCallersCgroup) {
    KILN_REQUIRE_ROOT();
    with_container({}, "", [&](const Kiln& k, const std::string& id) {
        int pid = k.state(id)["pid"];
        std::ifstream cg("/proc/" + std::to_string(pid) + "/cgroup");
        std::string text((std::istreambuf_iterator<char>(cg)), std::istreambuf_iterator<char>());
        std::ifstream self("/proc/self/cgroup");
        std::string line;
        while (std::getline(self, line)) {
            if (line.find(":pids:") == std::string::npos) continue;
            std::string mine = line.substr(line.rfind(':') + 1);
            std::string expected = ":pids:" + (mine == "/" ? "" : mine) + "/" + id + "\n";
            EXPECT_NE(text.find(expected), std::string::npos) << text;
        }
    });
}

TEST(Cgroups, HybridHostUsesTheV2HierarchyForHugetlb) {
    KILN_REQUIRE_ROOT();
    auto layout = cgroups::detect_layout();
    const auto* h = layout.find("hugetlb");
    if (!h) GTEST_SKIP() << "no hugetlb controller";
    std::string path = "/kiln-it-huge-" + std::to_string(getpid());
    with_container({{"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 4194304}}}}}, path,
                   [&](const Kiln&, const std::string&) {
                       std::string file = h->mount_point + path + (h->version == cgroups::Version::v2
                                                                       ? "/hugetlb.2MB.max"
                                                                       : "/hugetlb.2MB.limit_in_bytes");
                       EXPECT_EQ(read_trimmed(file), "4194304") << file;
                   });
}

TEST(Cgroups, UnifiedKeysGoToTheV2Hierarchy) {
    KILN_REQUIRE_ROOT();
    auto layout = cgroups::detect_layout();
    if (!layout.unified()) GTEST_SKIP() << "no cgroup v2 hierarchy";
    std::string path = "/kiln-it-unified-" + std::to_string(getpid());
    with_container({{"unified", {{"cgroup.max.descendants", "7"}}}}, path, [&](const Kiln&, const std::string&) {
        EXPECT_EQ(read_trimmed(layout.unified()->mount_point + path + "/cgroup.max.descendants"), "7");
    });
    Kiln k;
    Bundle b({"true"});
    b.config["linux"]["resources"] = {{"unified", {{"../escape", "1"}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.resources.unified.../escape: not a cgroup file name"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Cgroups, DeviceRulesDenyAccess) {
    KILN_REQUIRE_ROOT();
    if (!fs::exists("/dev/loop-control")) GTEST_SKIP() << "no /dev/loop-control to try";
    Kiln k;
    // /dev/loop-control (c 10:237) is bound in from the host: after "deny all" only the default devices
    // and linux.devices entries are allowed again, as runc does, so opening it is refused.
    Bundle b({"sh", "-c", "head -c1 /dev/zero | wc -c; head -c1 /dev/devtest >/dev/null 2>/tmp/err; cat /tmp/err"});
    b.config["mounts"].push_back({{"destination", "/dev/devtest"}, {"type", "bind"}, {"source", "/dev/loop-control"}, {"options", {"bind"}}});
    b.config["mounts"].push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", nlohmann::json::array()}});
    b.save();
    std::string id = unique_id();
    // Without any linux.resources.devices the policy is the same: runc's defaults only.
    Result r0 = k.run(b, id);
    ASSERT_EQ(r0.code, 0) << r0.err;
    EXPECT_NE(r0.out.find("Operation not permitted"), std::string::npos) << r0.out;
    b.config["linux"]["resources"] = {{"devices", {{{"allow", false}, {"access", "rwm"}}}}};
    b.save();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("1\n", 0), 0u) << "the default /dev/zero stays usable: " << r.out;
    EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
    // Allowing it explicitly (read only) lets it open for reading.
    b.config["linux"]["resources"]["devices"].push_back({{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 237}, {"access", "r"}});
    b.save();
    Result r2 = k.run(b, id);
    ASSERT_EQ(r2.code, 0) << r2.err;
    EXPECT_EQ(r2.out.find("Operation not permitted"), std::string::npos) << r2.out;
    expect_no_leftovers(k, id);
}

TEST(Cgroups, CgroupHoldingProcessesIsRefusedAndLeftAlone) {
    KILN_REQUIRE_ROOT();
    auto layout = cgroups::detect_layout();
    const auto* pids = layout.find("pids");
    if (!pids) GTEST_SKIP() << "no pids controller";
    std::string rel = "/kiln-it-busy-" + std::to_string(getpid());
    std::string dir = pids->mount_point + rel;
    fs::create_directory(dir);
    pid_t sleeper = fork();
    if (sleeper == 0) {
        ::pause();
        _exit(0);
    }
    {
        std::ofstream procs(dir + (pids->version == cgroups::Version::v2 ? "/cgroup.procs" : "/tasks"));
        procs << sleeper;
    }
    Kiln k;
    Bundle b({"true"});
    b.config["linux"]["cgroupsPath"] = rel;
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.cgroupsPath: the cgroup"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("already holds processes"), std::string::npos) << r.err;
    // Someone else's cgroup and process are untouched.
    EXPECT_EQ(::kill(sleeper, 0), 0);
    EXPECT_TRUE(fs::exists(dir));
    EXPECT_EQ(read_trimmed(dir + "/cgroup.procs"), std::to_string(sleeper));
    ::kill(sleeper, SIGKILL);
    ::waitpid(sleeper, nullptr, 0);
    fs::remove(dir);
    expect_no_leftovers(k, id);
}

TEST(Cgroups, DeleteRemovesCgroupsMadeBelowTheContainers) {
    KILN_REQUIRE_ROOT();
    auto layout = cgroups::detect_layout();
    Kiln k;
    Bundle b({"sleep", "10"});
    std::string rel = "/kiln-it-nested-" + std::to_string(getpid());
    b.config["linux"]["cgroupsPath"] = rel;
    b.save();
    std::string id = unique_id();
    ASSERT_EQ(k({"create", "--bundle", b.dir(), id}).code, 0);
    // What a container's own cgroup manager (systemd, a nested runtime) would make.
    std::vector<std::string> made;
    for (const auto& h : layout.hierarchies) {
        std::string sub = h.mount_point + rel + "/payload/inner";
        ASSERT_TRUE(fs::create_directories(sub)) << sub;
        made.push_back(h.mount_point + rel);
    }
    ASSERT_FALSE(made.empty());
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    for (const auto& dir : made) EXPECT_FALSE(fs::exists(dir)) << dir;
    expect_no_leftovers(k, id);
}

TEST(Cgroups, MissingControllerIsAnErrorOnlyWhenAskedFor) {
    KILN_REQUIRE_ROOT();
    auto layout = cgroups::detect_layout();
    if (layout.find("net_cls", "")) GTEST_SKIP() << "this host has net_cls";
    Kiln k;
    Bundle b({"true"});
    b.config["linux"]["resources"] = {{"network", {{"classID", 1048577}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.resources.network.classID: the net_cls controller is not available on this host"),
              std::string::npos)
        << r.err;
    expect_no_leftovers(k, id);
    // Unset (0, as Go callers send it) is not a request.
    b.config["linux"]["resources"] = {{"network", {{"classID", 0}}}, {"blockIO", {{"weight", 0}}}, {"pids", {{"limit", 0}}}};
    b.save();
    Result ok = k.run(b, id);
    EXPECT_EQ(ok.code, 0) << ok.err;
    expect_no_leftovers(k, id);
}

TEST(Cgroups, BadValueNamesTheFieldAndLeavesNothing) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    b.config["linux"]["resources"] = {{"cpu", {{"cpus", "999-1000"}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.resources.cpu.cpus: write \"999-1000\""), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Cgroups, UpdateChangesLimits) {
    KILN_REQUIRE_ROOT();
    std::string path = "/kiln-it-update-" + std::to_string(getpid());
    with_container({{"pids", {{"limit", 10}}}}, path, [&](const Kiln& k, const std::string& id) {
        Result u = k({"update", "--pids-limit", "20", "--memory", "32m", id});
        ASSERT_EQ(u.code, 0) << u.err;
        EXPECT_EQ(read_trimmed(dir_of("pids", path) + "/pids.max"), "20");
        auto layout = cgroups::detect_layout();
        if (layout.mode != cgroups::Mode::unified) {
            EXPECT_EQ(read_trimmed(dir_of("memory", path) + "/memory.limit_in_bytes"), "33554432");
        }
        Result j = k({"update", "--resources", "-", id}, R"({"pids": {"limit": 30}})");
        ASSERT_EQ(j.code, 0) << j.err;
        EXPECT_EQ(read_trimmed(dir_of("pids", path) + "/pids.max"), "30");
        Result bad = k({"update", "--resources", "-", id}, R"({"pids": {"limit": "many"}})");
        EXPECT_NE(bad.code, 0);
        EXPECT_NE(bad.err.find("resources.pids.limit: expected an integer, got a string"), std::string::npos) << bad.err;
        // Device rules are left as created (runc): a warning, and the rest still applies.
        Result dev = k({"update", "--resources", "-", id}, R"({"devices": [{"allow": true, "access": "rwm"}], "pids": {"limit": 40}})");
        ASSERT_EQ(dev.code, 0) << dev.err;
        EXPECT_NE(dev.err.find("linux.resources.devices cannot be changed on a running container"), std::string::npos) << dev.err;
        EXPECT_EQ(read_trimmed(dir_of("pids", path) + "/pids.max"), "40");
        if (std::string devices = dir_of("devices", path); !devices.empty()) {
            EXPECT_EQ(read_trimmed(devices + "/devices.list").find("a *:* rwm"), std::string::npos);
        }
    });
}

}  // namespace
}  // namespace kiln::testing
