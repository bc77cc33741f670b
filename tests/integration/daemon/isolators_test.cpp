// kiln's isolator plugins (isolators/), loaded from the build's lib/kiln/plugins as kilnd finds
// them by default, each seen from inside a container.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

// Runs `script` in a pod of one busybox container with these isolators; its output.
std::string inside(Kilnd& k, const std::string& name, const json& isolators, const std::string& script) {
    json pod = simple_pod(name, {"sleep", "1000"});
    pod["isolators"] = isolators;
    auto r = k.client().request("POST", "/v1/pods", pod);
    EXPECT_EQ(r.status, 201) << r.body;
    if (r.status != 201) return "";
    auto ex = k.client().call("POST", "/v1/pods/" + name + "/containers/main/exec", json{{"command", {"sh", "-c", script}}});
    return ex.value("stdout", "") + ex.value("stderr", "");
}

std::uint64_t cap_field(const std::string& status, const std::string& key) {
    auto at = status.find(key + ":");
    if (at == std::string::npos) return 0;
    return std::stoull(status.substr(at + key.size() + 1), nullptr, 16);
}

constexpr int kNetRaw = 13, kSysTime = 25, kSysAdmin = 21;

TEST(Isolators, KilnsIsolatorsAreStartedByDefault) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    auto list = k.client().call("GET", "/v1/plugins");
    std::set<std::string> started;
    for (const auto& p : list)
        if (p["state"] == "started") started.insert(p["id"]);
    for (const char* id : {"readonly-rootfs", "capabilities", "privileged", "namespaces", "resources", "seccomp",
                           "host-access", "api-access"})
        EXPECT_TRUE(started.count(id)) << id << " in " << list.dump();
}

TEST(Isolators, ReadonlyRootfs) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string out = inside(k, "ro", json::array({{{"name", "readonly-rootfs"}}}), "touch /x 2>&1; echo rc=$?");
    EXPECT_NE(out.find("Read-only file system"), std::string::npos) << out;
    EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
    out = inside(k, "rw", json::array({{{"name", "readonly-rootfs"}, {"config", {{"enabled", false}}}}}), "touch /x && echo ok");
    EXPECT_EQ(out, "ok\n");
}

TEST(Isolators, CapabilitiesAddAndDrop) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string status = inside(k, "caps",
                                json::array({{{"name", "capabilities"},
                                              {"config", {{"add", {"CAP_SYS_TIME"}}, {"drop", {"net_raw"}}}}}}),
                                "grep Cap /proc/self/status");
    std::uint64_t eff = cap_field(status, "CapEff"), bnd = cap_field(status, "CapBnd");
    EXPECT_TRUE(eff & (1ull << kSysTime)) << status;
    EXPECT_FALSE(eff & (1ull << kNetRaw)) << status;
    EXPECT_FALSE(bnd & (1ull << kNetRaw)) << status;
    EXPECT_FALSE(eff & (1ull << kSysAdmin)) << "the default set stays otherwise";

    json bad = simple_pod("badcaps", {"true"});
    bad["isolators"] = json::array({{{"name", "capabilities"}, {"config", {{"add", {"CAP_MADE_UP!"}}}}}});
    auto r = k.client().request("POST", "/v1/pods", bad);
    EXPECT_NE(r.status, 201);
    EXPECT_NE(r.body.find("isolators[capabilities].config.add[0]"), std::string::npos) << r.body;
    EXPECT_EQ(k.client().request("GET", "/v1/pods/badcaps").status, 404) << "a refused pod is not kept";
}

TEST(Isolators, PrivilegedHasEveryCapabilityAndNoMasks) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string out = inside(k, "priv", json::array({{{"name", "privileged"}}}),
                             "grep CapEff /proc/self/status; wc -c < /proc/timer_list | tr -d ' '; ls /dev | grep -c .");
    EXPECT_TRUE(cap_field(out, "CapEff") & (1ull << kSysAdmin)) << out;
    std::istringstream lines(out);
    std::string capline, timer, devs;
    std::getline(lines, capline);
    std::getline(lines, timer);
    std::getline(lines, devs);
    EXPECT_GT(std::stoll(timer), 0) << "/proc/timer_list is not masked: " << out;
    EXPECT_GT(std::stoi(devs), 20) << "the host's devices: " << out;
}

TEST(Isolators, NamespacesSharesTheHostsIpcAndPid) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string out = inside(k, "hostns", json::array({{{"name", "namespaces"}, {"config", {{"host", {"ipc", "pid"}}}}}}),
                             "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; readlink /proc/self/ns/net");
    std::string host = sh("readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; readlink /proc/self/ns/net").out;
    std::istringstream a(out), b(host);
    std::string a_ipc, a_pid, a_net, b_ipc, b_pid, b_net;
    a >> a_ipc >> a_pid >> a_net;
    b >> b_ipc >> b_pid >> b_net;
    EXPECT_EQ(a_ipc, b_ipc);
    EXPECT_EQ(a_pid, b_pid);
    EXPECT_NE(a_net, b_net) << "net stays the pod's";
}

// The default profile refuses unshare (among others) with EPERM; unconfined does not, nor does
// a pod without the isolator; a custom profile is read from the host.
TEST(Isolators, SeccompProfiles) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    const std::string script = "unshare -U true 2>&1; echo rc=$?";
    std::string out = inside(k, "sc-default", json::array({{{"name", "seccomp"}}}), script);
    EXPECT_NE(out.find("Operation not permitted"), std::string::npos) << out;
    EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
    out = inside(k, "sc-none", json::array(), script);
    EXPECT_EQ(out, "rc=0\n") << "without a filter unshare works";
    out = inside(k, "sc-unconfined", json::array({{{"name", "seccomp"}, {"config", {{"profile", "unconfined"}}}}}), script);
    EXPECT_EQ(out, "rc=0\n");

    TempDir tmp("kiln-seccomp");
    std::ofstream(tmp.path() + "/p.json") << R"({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "comment": "x"}]})";
    out = inside(k, "sc-custom", json::array({{{"name", "seccomp"}, {"config", {{"profile", tmp.path() + "/p.json"}}}}}),
                 "mkdir /tmp/d 2>&1; echo rc=$?");
    EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;

    json bad = simple_pod("sc-bad", {"true"});
    bad["isolators"] = json::array({{{"name", "seccomp"}, {"config", {{"profile", "relative.json"}}}}});
    auto r = k.client().request("POST", "/v1/pods", bad);
    EXPECT_NE(r.status, 201);
    EXPECT_NE(r.body.find("isolators[seccomp].config.profile"), std::string::npos) << r.body;
}

// Named host paths, granted by the deployment, read-only unless granted writable.
TEST(Isolators, HostAccessMountsWhatTheDeploymentGrants) {
    KILN_REQUIRE_ROOT();
    TempDir host("kiln-host-access");
    sh("mkdir -p " + host.path() + "/ro " + host.path() + "/rw && echo hello > " + host.path() + "/ro/f");
    Kilnd k("plugins:\n  host-access:\n    paths:\n      logs: {path: " + host.path() + "/ro}\n"
            "      spool: {path: " + host.path() + "/rw, writable: true}\n");
    k.import_busybox();
    json iso = json::array({{{"name", "host-access"},
                             {"config",
                              {{"mounts",
                                {{{"name", "logs"}, {"destination", "/logs"}},
                                 {{"name", "spool"}, {"destination", "/spool"}, {"readonly", false}}}}}}}});
    std::string out = inside(k, "ha", iso, "cat /logs/f; touch /logs/x 2>&1 | grep -o 'Read-only'; echo w > /spool/out && echo wrote");
    EXPECT_EQ(out, "hello\nRead-only\nwrote\n");
    EXPECT_EQ(sh("cat " + host.path() + "/rw/out").out, "w\n");

    json bad = simple_pod("ha-bad", {"true"});
    bad["isolators"] = json::array({{{"name", "host-access"},
                                     {"config", {{"mounts", {{{"name", "logs"}, {"destination", "/l"}, {"readonly", false}}}}}}}});
    auto r = k.client().request("POST", "/v1/pods", bad);
    EXPECT_NE(r.status, 201);
    EXPECT_NE(r.body.find("granted read-only"), std::string::npos) << r.body;
    bad["isolators"][0]["config"]["mounts"][0] = {{"name", "etc"}, {"destination", "/etc2"}};
    r = k.client().request("POST", "/v1/pods", bad);
    EXPECT_NE(r.body.find("is not a host path this deployment grants (granted: logs, spool)"), std::string::npos) << r.body;
}

// kilnd's socket inside, the very one kilnd listens on (busybox has no client for a unix socket:
// the inode tells), and KILN_HOST pointing at it.
TEST(Isolators, ApiAccessMountsKilndsSocket) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    std::string out = inside(k, "api", json::array({{{"name", "api-access"}}}),
                             "echo $KILN_HOST; test -S /run/kiln/kiln.sock && stat -c %i /run/kiln/kiln.sock");
    std::string host_inode = sh("stat -c %i " + k.socket()).out;
    EXPECT_EQ(out, "unix:///run/kiln/kiln.sock\n" + host_inode);
    EXPECT_EQ(inside(k, "noapi", json::array(), "test -e /run/kiln/kiln.sock && echo there || echo absent"), "absent\n");
}

TEST(Isolators, ResourcesBecomeCgroupLimits) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json pod = simple_pod("limited", {"sleep", "1000"});
    pod["isolators"] = json::array({{{"name", "resources"}, {"config", {{"memory", "32m"}, {"cpus", 0.5}, {"pids", 100}}}}});
    auto created = k.client().call("POST", "/v1/pods", pod);
    // Read from the host: the container's cgroup.
    std::string cg = "/sys/fs/cgroup/memory/" + k.cgroup_parent() + "/limited/main";
    EXPECT_EQ(sh("cat " + cg + "/memory.limit_in_bytes").out, "33554432\n");
    EXPECT_EQ(sh("cat /sys/fs/cgroup/pids/" + k.cgroup_parent() + "/limited/main/pids.max").out, "100\n");
    EXPECT_EQ(sh("cat /sys/fs/cgroup/cpu/" + k.cgroup_parent() + "/limited/main/cpu.cfs_quota_us").out, "50000\n");
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

// The uid map's first line as {inside, outside, count}.
std::vector<long> first_map(const std::string& text) {
    std::istringstream in(text);
    long a = -1, b = -1, c = -1;
    in >> a >> b >> c;
    return {a, b, c};
}

std::string status_field(int pid, const std::string& key) {
    return sh("awk '/^" + key + ":/ {print $2}' /proc/" + std::to_string(pid) + "/status").out;
}

TEST(Isolators, UsernsPutsThePodInARangeOfHostIdsOfItsOwn) {
    KILN_REQUIRE_ROOT();
    Kilnd k;
    k.import_busybox();
    json iso = json::array({{{"name", "userns"}}});
    EXPECT_EQ(first_map(inside(k, "u1", iso, "cat /proc/self/uid_map")), (std::vector<long>{0, 100000, 65536}));
    EXPECT_EQ(first_map(inside(k, "u2", iso, "cat /proc/self/gid_map")), (std::vector<long>{0, 165536, 65536}));
    auto u1 = k.client().call("GET", "/v1/pods/u1");
    EXPECT_EQ(u1["userns"]["uidMappings"][0]["hostID"], 100000);
    // On the host the container's root is 100000, and the sandbox's nobody the pod's nobody.
    EXPECT_EQ(status_field(u1["containers"][0].value("pid", 0), "Uid"), "100000\n");
    EXPECT_EQ(status_field(u1["sandbox"].value("pid", 0), "Uid"), "165534\n");
    // Inside, root owns the image's files and may write its root file system; on disk what it
    // wrote is the image's root's.
    auto ex = k.client().call("POST", "/v1/pods/u1/containers/main/exec",
                              json{{"command", {"sh", "-c", "echo hi > /etc/written && cat /etc/written && stat -c %u /bin/busybox && id -u"}}});
    EXPECT_EQ(ex.value("stdout", ""), "hi\n0\n0\n") << ex.dump();
    EXPECT_EQ(sh("stat -c %u " + k.dir() + "/state/pods/u1/containers/main/upper/etc/written").out, "0\n");
    // A named volume is the pod's root's too; the pod's directories are its own, and closed.
    json vol = simple_pod("uv", {"sh", "-c", "echo kept > /data/file && sleep 1000"});
    vol["isolators"] = iso;
    vol["volumes"] = json::array({{{"name", "data"}}});
    vol["containers"][0]["volumeMounts"] = json::array({{{"name", "data"}, {"path", "/data"}}});
    ASSERT_EQ(k.client().request("POST", "/v1/pods", vol).status, 201);
    for (int i = 0; i < 100 && sh("cat " + k.dir() + "/state/pods/uv/volumes/data/file 2>/dev/null").out.empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(sh("cat " + k.dir() + "/state/pods/uv/volumes/data/file").out, "kept\n");
    EXPECT_EQ(sh("stat -c '%a %u' " + k.dir() + "/state/pods/uv").out, "700 231072\n");
    // A hostPath volume is idmapped through the pod's user namespace: its files keep their owners
    // inside, and what the pod's root writes there is the host's root's.
    std::string host = k.dir() + "/hostvol";
    ASSERT_EQ(sh("mkdir -m 755 " + host + " && echo x > " + host + "/roots && echo x > " + host +
                 "/sevens && chown 7:7 " + host + "/sevens").code, 0);
    json hp = simple_pod("uh", {"sh", "-c", "stat -c %u:%g /h/roots /h/sevens > /h/seen.tmp && mv /h/seen.tmp /h/seen && sleep 1000"});
    hp["isolators"] = iso;
    hp["volumes"] = json::array({{{"name", "h"}, {"hostPath", host}}});
    hp["containers"][0]["volumeMounts"] = json::array({{{"name", "h"}, {"path", "/h"}}});
    ASSERT_EQ(k.client().request("POST", "/v1/pods", hp).status, 201);
    for (int i = 0; i < 100 && sh("cat " + host + "/seen 2>/dev/null").out.empty(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(sh("cat " + host + "/seen").out, "0:0\n7:7\n");
    EXPECT_EQ(sh("stat -c %u:%g " + host + "/seen").out, "0:0\n");
    // A pod may not lay out its own range.
    json own = simple_pod("u6", {"sleep", "10"});
    own["isolators"] = json::array({{{"name", "userns"}, {"config", {{"first", 65536}}}}});
    auto refused = k.client().request("POST", "/v1/pods", own);
    EXPECT_NE(refused.status, 201);
    EXPECT_NE(refused.body.find("isolators[userns].config.first: is set by the deployment"), std::string::npos) << refused.body;
    // proc, sysfs and mqueue are the pod's own: mounted in the namespaces the pod owns.
    std::string mounts = inside(k, "u3", iso, "grep -E ' /(proc|sys|dev/mqueue) ' /proc/self/mounts | cut -d' ' -f3 | sort | tr '\\n' ' '");
    EXPECT_EQ(mounts, "mqueue proc sysfs ") << mounts;
    // A deleted pod's range goes back.
    ASSERT_EQ(k.client().request("DELETE", "/v1/pods/u1?force=true").status, 204);
    EXPECT_EQ(first_map(inside(k, "u4", iso, "cat /proc/self/uid_map"))[1], 100000);
    // The host's network namespace is not the pod's to own.
    json bad = simple_pod("u5", {"sleep", "10"});
    bad["networks"] = {"host"};
    bad["isolators"] = iso;
    auto r = k.client().request("POST", "/v1/pods", bad);
    EXPECT_NE(r.status, 201);
    EXPECT_NE(r.body.find("needs a network namespace of its own"), std::string::npos) << r.body;
    EXPECT_EQ(k.client().request("GET", "/v1/pods/u5").status, 404);
}

}  // namespace
}  // namespace kiln::testing
