// Namespaces: new ones differ from the host's, omitted ones are inherited, paths are joined,
// a path of the wrong type is refused, time offsets apply, user namespaces get their maps.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

std::string host_ns(const std::string& name) {
    struct stat st;
    if (stat(("/proc/self/ns/" + name).c_str(), &st) != 0) return "";
    return std::to_string(st.st_ino);
}

// Prints "name inode" for each namespace of the container's process.
const char* kListNamespaces =
    "for n in net ipc uts pid mnt cgroup time user; do echo $n $(stat -L -c %i /proc/self/ns/$n); done";

std::map<std::string, std::string> parse_pairs(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string k, v;
    while (in >> k >> v) out[k] = v;
    return out;
}

TEST(Namespaces, NewOnesDifferAndOmittedOnesAreInherited) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", kListNamespaces});
    set_namespace(b.config, "time");
    b.save();  // pid network ipc uts mount cgroup time are new; user is not listed
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    auto ns = parse_pairs(r.out);
    for (const char* n : {"net", "ipc", "uts", "pid", "mnt", "cgroup", "time"})
        EXPECT_NE(ns[n], host_ns(n)) << n << " should be a new namespace";
    EXPECT_EQ(ns["user"], host_ns("user")) << "an omitted namespace is inherited";
    expect_no_leftovers(k, id);
}

TEST(Namespaces, JoinsANamespaceByPath) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // A first container holds network, ipc and uts namespaces; a second joins them by path.
    Bundle holder({"sleep", "100"});
    holder.config["hostname"] = "holder";
    holder.save();
    std::string hid = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", holder.dir(), hid}).code, 0);
    int pid = k.state(hid)["pid"];
    std::string proc = "/proc/" + std::to_string(pid) + "/ns/";

    Bundle b({"sh", "-c", std::string(kListNamespaces) + "; hostname"});
    set_namespace(b.config, "network", proc + "net");
    set_namespace(b.config, "ipc", proc + "ipc");
    set_namespace(b.config, "uts", proc + "uts");
    b.config.erase("hostname");
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    auto ns = parse_pairs(r.out);
    struct stat st;
    ASSERT_EQ(stat((proc + "net").c_str(), &st), 0);
    EXPECT_EQ(ns["net"], std::to_string(st.st_ino));
    ASSERT_EQ(stat((proc + "uts").c_str(), &st), 0);
    EXPECT_EQ(ns["uts"], std::to_string(st.st_ino));
    EXPECT_NE(r.out.find("holder"), std::string::npos) << "the joined uts namespace has the holder's hostname";
    EXPECT_NE(ns["pid"], host_ns("pid"));
    EXPECT_EQ(k({"delete", "--force", hid}).code, 0);
    expect_no_leftovers(k, id);
    expect_no_leftovers(k, hid);
}

TEST(Namespaces, JoinsAPidNamespace) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle holder({"sleep", "100"});
    std::string hid = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", holder.dir(), hid}).code, 0);
    int pid = k.state(hid)["pid"];
    Bundle b({"sh", "-c", "ps -o pid,args"});
    set_namespace(b.config, "pid", "/proc/" + std::to_string(pid) + "/ns/pid");
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("sleep 100"), std::string::npos) << "the holder's process is visible: " << r.out;
    EXPECT_EQ(k({"delete", "--force", hid}).code, 0);
    expect_no_leftovers(k, id);
    expect_no_leftovers(k, hid);
}

TEST(Namespaces, PathOfTheWrongTypeIsRefused) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    set_namespace(b.config, "network", "/proc/self/ns/uts");
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.namespaces["), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("is a uts namespace, not network"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);

    set_namespace(b.config, "network", "/etc/hostname");
    b.save();
    Result r2 = k.run(b, id);
    EXPECT_NE(r2.code, 0);
    EXPECT_NE(r2.err.find("is not a namespace"), std::string::npos) << r2.err;
    expect_no_leftovers(k, id);

    set_namespace(b.config, "network", "/nonexistent/ns");
    b.save();
    Result r3 = k.run(b, id);
    EXPECT_NE(r3.code, 0);
    EXPECT_NE(r3.err.find("/nonexistent/ns"), std::string::npos) << r3.err;
    expect_no_leftovers(k, id);
}

TEST(Namespaces, TimeOffsets) {
    KILN_REQUIRE_ROOT();
    if (host_ns("time").empty()) GTEST_SKIP() << "no time namespaces";
    Kiln k;
    Bundle b({"cat", "/proc/uptime"});
    set_namespace(b.config, "time");
    b.config["linux"]["timeOffsets"] = {{"boottime", {{"secs", 86400 * 1000}, {"nanosecs", 0}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    double uptime = std::stod(r.out);
    EXPECT_GT(uptime, 86400.0 * 1000) << "boottime offset shows in /proc/uptime";
    expect_no_leftovers(k, id);
}

TEST(Namespaces, TimeOffsetsInAUserNamespace) {
    KILN_REQUIRE_ROOT();
    if (host_ns("time").empty()) GTEST_SKIP() << "no time namespaces";
    Kiln k;
    Bundle b({"cat", "/proc/uptime"}, true);
    set_namespace(b.config, "time");
    set_namespace(b.config, "user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["timeOffsets"] = {{"boottime", {{"secs", 86400 * 1000}, {"nanosecs", 0}}}};
    ASSERT_EQ(sh("chown -R 100000:100000 " + b.rootfs()).code, 0);
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_GT(std::stod(r.out), 86400.0 * 1000) << "boottime offset shows in /proc/uptime";
    expect_no_leftovers(k, id);
}

TEST(Namespaces, UserNamespaceMaps) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g"}, true);
    set_namespace(b.config, "user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 200000}, {"size", 65536}}};
    // The container's root owns its files only when the rootfs belongs to the mapped ids.
    Result chown = sh("chown -R 100000:200000 " + b.rootfs());
    ASSERT_EQ(chown.code, 0) << chown.err;
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    std::istringstream in(r.out);
    std::string line;
    std::vector<std::string> lines;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string a, b2, c;
        f >> a >> b2 >> c;
        lines.push_back(c.empty() ? a : a + " " + b2 + " " + c);
    }
    ASSERT_EQ(lines.size(), 4u) << r.out;
    EXPECT_EQ(lines[0], "0 100000 65536");
    EXPECT_EQ(lines[1], "0 200000 65536");
    EXPECT_EQ(lines[2], "0");
    EXPECT_EQ(lines[3], "0");
    expect_no_leftovers(k, id);
}

TEST(Namespaces, NewNetworkNamespaceBelongsToTheNewUserNamespace) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // Root in the container's user namespace, with CAP_NET_ADMIN there, configures its network
    // namespace: only the user namespace that owns it grants that.
    Bundle b({"sh", "-c", "ip link set lo up && ip -o link show lo"}, true);
    set_namespace(b.config, "user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 340000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 340000}, {"size", 65536}}};
    for (const char* set : {"bounding", "effective", "permitted"})
        b.config["process"]["capabilities"][set].push_back("CAP_NET_ADMIN");
    ASSERT_EQ(sh("chown -R 340000:340000 " + b.rootfs()).code, 0);
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    EXPECT_NE(r.out.find(",UP"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Namespaces, UserNamespaceJoinedWithANewPidNamespace) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // A holder with its own user namespace; a second container joins it and creates the rest.
    Bundle holder({"sleep", "100"}, true);
    set_namespace(holder.config, "user");
    holder.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 300000}, {"size", 65536}}};
    holder.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 300000}, {"size", 65536}}};
    ASSERT_EQ(sh("chown -R 300000:300000 " + holder.rootfs()).code, 0);
    holder.save();
    std::string hid = unique_id();
    Result d = k({"run", "-d", "--bundle", holder.dir(), hid});
    ASSERT_EQ(d.code, 0) << d.err;
    int pid = k.state(hid)["pid"];

    Bundle b({"sh", "-c", "cat /proc/self/uid_map; echo pid=$$"}, true);
    ASSERT_EQ(sh("chown -R 300000:300000 " + b.rootfs()).code, 0);
    set_namespace(b.config, "user", "/proc/" + std::to_string(pid) + "/ns/user");
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("300000"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("pid=1"), std::string::npos) << "init of a new pid namespace: " << r.out;
    EXPECT_EQ(k({"delete", "--force", hid}).code, 0);
    expect_no_leftovers(k, id);
    expect_no_leftovers(k, hid);
}

TEST(Namespaces, JoinedUserNamespaceWithSetgroupsDenied) {
    KILN_REQUIRE_ROOT();
    // unshare --map-root-user denies setgroups before it writes the gid map.
    pid_t holder = fork();
    if (holder == 0) {
        execlp("unshare", "unshare", "--user", "--map-root-user", "sleep", "100", nullptr);
        _exit(127);
    }
    std::string setgroups = "/proc/" + std::to_string(holder) + "/setgroups";
    for (int i = 0; i < 500 && trim(sh("cat " + setgroups + " 2>/dev/null").out) != "deny"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(trim(sh("cat " + setgroups).out), "deny");
    Kiln k;
    Bundle b({"sleep", "100"});
    set_namespace(b.config, "user", "/proc/" + std::to_string(holder) + "/ns/user");
    // Only root is mapped in there: devpts cannot be given group 5.
    for (auto& m : b.config["mounts"])
        if (m["type"] == "devpts") {
            nlohmann::json options = nlohmann::json::array();
            for (const auto& o : m["options"])
                if (o != "gid=5") options.push_back(o);
            m["options"] = options;
        }
    b.save();
    std::string id = unique_id();
    Result r = k({"run", "-d", "--bundle", b.dir(), id});
    EXPECT_EQ(r.code, 0) << r.err;
    if (r.code == 0) {
        Result e = k({"exec", id, "id", "-G"});
        EXPECT_EQ(e.code, 0) << e.err;
        // Supplementary groups cannot be set in there: asking for them is a clear error.
        Result g = k({"exec", "--additional-gids", "10", id, "true"});
        EXPECT_NE(g.code, 0);
        EXPECT_NE(g.err.find("process.user.additionalGids: setgroups is denied in this user namespace"), std::string::npos)
            << g.err;
        EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    }
    kill(holder, SIGKILL);
    waitpid(holder, nullptr, 0);
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
