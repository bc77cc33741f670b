// Mounts: bind and rbind with their options, tmpfs, propagation, symlinked targets that must stay
// inside the rootfs, the read-only root, idmapped mounts, and --no-pivot.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

void add_mount(nlohmann::json& config, const std::string& dest, const std::string& type, const std::string& source,
               std::vector<std::string> options) {
    config["mounts"].push_back({{"destination", dest}, {"type", type}, {"source", source}, {"options", options}});
}

// The mount options column of /proc/self/mountinfo for `dest`, from inside the container.
std::string options_of(const std::string& mountinfo, const std::string& dest) {
    std::istringstream in(mountinfo);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, dev, root, mp, opts;
        f >> id >> parent >> dev >> root >> mp >> opts;
        if (mp == dest) return opts + " | " + line;
    }
    return "";
}

TEST(Mounts, BindOptionsAreApplied) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir host;
    std::ofstream(host.path() + "/file") << "from-host";
    Bundle b({"sh", "-c",
              "cat /data/file; echo; touch /data/new 2>&1; cat /proc/self/mountinfo; "
              "echo x > /rw/written && echo rw-ok"});
    add_mount(b.config, "/data", "bind", host.path(), {"rbind", "ro", "nosuid", "nodev", "noexec"});
    TempDir rw;
    add_mount(b.config, "/rw", "none", rw.path(), {"bind", "rw"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("from-host\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
    std::string opts = options_of(r.out, "/data");
    EXPECT_NE(opts.find("ro,"), std::string::npos) << opts;
    EXPECT_NE(opts.find("nosuid"), std::string::npos) << opts;
    EXPECT_NE(opts.find("nodev"), std::string::npos) << opts;
    EXPECT_NE(opts.find("noexec"), std::string::npos) << opts;
    EXPECT_NE(r.out.find("rw-ok"), std::string::npos);
    std::ifstream written(rw.path() + "/written");
    EXPECT_TRUE(written.good()) << "a rw bind mount writes through to the host";
    EXPECT_FALSE(fs::exists(host.path() + "/new"));
    expect_no_leftovers(k, id);
}

TEST(Mounts, FileBindAndRelativeSource) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"cat", "/etc/motd-test"});
    std::ofstream(b.dir() + "/motd") << "hello from the bundle";
    // A relative source is relative to the bundle.
    add_mount(b.config, "/etc/motd-test", "bind", "motd", {"bind", "ro"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "hello from the bundle");
    expect_no_leftovers(k, id);
}

TEST(Mounts, TmpfsWithData) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo"});
    add_mount(b.config, "/scratch", "tmpfs", "tmpfs", {"nosuid", "mode=1750", "size=1m", "noatime"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("1750\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("size=1024k"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("noatime"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Mounts, TmpcopyupStartsWithTheCoveredFiles) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "cat /etc/passwd | head -1; touch /etc/new && echo writable"}, true);
    add_mount(b.config, "/etc", "tmpfs", "tmpfs", {"tmpcopyup", "mode=755"});
    b.config["root"]["readonly"] = true;
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("root:x:0:0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("writable"), std::string::npos);
    EXPECT_FALSE(fs::exists(b.rootfs() + "/etc/new")) << "writes go to the tmpfs, not the image";
    expect_no_leftovers(k, id);
}

TEST(Mounts, SymlinkedTargetStaysInsideTheRootfs) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir outside;
    TempDir outside2;
    TempDir src;
    std::ofstream(src.path() + "/marker") << "mounted";
    Bundle b({"sh", "-c", "ls /escape/; cat /escape/marker"}, true);
    // An image with a symlink that points at a host directory, absolutely and through "..".
    fs::create_directory_symlink(outside.path(), b.rootfs() + "/escape");
    fs::create_directory_symlink("../../../../../../../../" + outside2.path(), b.rootfs() + "/escape2");
    add_mount(b.config, "/escape", "bind", src.path(), {"bind"});
    add_mount(b.config, "/escape2", "tmpfs", "tmpfs", {});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("mounted"), std::string::npos) << r.out;
    // The host directory the symlinks name got nothing: the mounts landed inside the rootfs.
    EXPECT_TRUE(fs::is_empty(outside.path()));
    EXPECT_TRUE(fs::is_empty(outside2.path()));
    EXPECT_TRUE(fs::exists(b.rootfs() + outside.path())) << "the target was created under the rootfs";
    EXPECT_TRUE(fs::exists(b.rootfs() + outside2.path())) << "the target was created under the rootfs";
    expect_no_leftovers(k, id);
}

TEST(Mounts, PropagationOptions) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir shared;
    // Make the source a shared mount so the container's mount can be a slave or private copy.
    ASSERT_EQ(mount(shared.path().c_str(), shared.path().c_str(), nullptr, MS_BIND, nullptr), 0);
    ASSERT_EQ(mount(nullptr, shared.path().c_str(), nullptr, MS_SHARED, nullptr), 0);
    Bundle b({"sh", "-c", "cat /proc/self/mountinfo"});
    add_mount(b.config, "/s1", "bind", shared.path(), {"rbind", "rslave"});
    add_mount(b.config, "/s2", "bind", shared.path(), {"rbind", "rprivate"});
    add_mount(b.config, "/s3", "bind", shared.path(), {"rbind", "rshared"});
    add_mount(b.config, "/s4", "bind", shared.path(), {"rbind", "unbindable"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    umount2(shared.path().c_str(), MNT_DETACH);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(options_of(r.out, "/s1").find("master:"), std::string::npos) << options_of(r.out, "/s1");
    EXPECT_EQ(options_of(r.out, "/s1").find("shared:"), std::string::npos);
    std::string s2 = options_of(r.out, "/s2");
    EXPECT_EQ(s2.find("master:"), std::string::npos) << s2;
    EXPECT_EQ(s2.find("shared:"), std::string::npos) << s2;
    EXPECT_NE(options_of(r.out, "/s3").find("shared:"), std::string::npos) << options_of(r.out, "/s3");
    EXPECT_NE(options_of(r.out, "/s4").find("unbindable"), std::string::npos) << options_of(r.out, "/s4");
    expect_no_leftovers(k, id);
}

TEST(Mounts, RecursiveReadOnly) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir outer;
    fs::create_directory(outer.path() + "/inner");
    ASSERT_EQ(mount("tmpfs", (outer.path() + "/inner").c_str(), "tmpfs", 0, nullptr), 0);
    Bundle b({"sh", "-c", "touch /data/inner/x 2>&1; touch /data/y 2>&1; true"});
    add_mount(b.config, "/data", "bind", outer.path(), {"rbind", "rro"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    umount2((outer.path() + "/inner").c_str(), MNT_DETACH);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("/data/inner/x"), std::string::npos) << "rro reaches submounts: " << r.out;
    EXPECT_NE(r.out.find("/data/y"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Mounts, RootfsPropagationShared) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"});
    b.config["linux"]["rootfsPropagation"] = "rshared";
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("shared:"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Mounts, ReadOnlyRootAndNoPivot) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "touch /x 2>&1; grep -c . /proc/self/mountinfo; cat /proc/self/mountinfo | head -1"}, true);
    b.config["root"]["readonly"] = true;
    b.save();
    std::string id = unique_id();
    Result r = k({"run", "--no-pivot", "--bundle", b.dir(), id});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(b.rootfs() + "/x"));
    expect_no_leftovers(k, id);
}

// The temp directory's filesystem refuses idmapped mounts (mount_setattr: EINVAL).
bool idmap_unsupported(const Result& r) {
    return r.code != 0 && r.err.find("idmap") != std::string::npos && r.err.find("Invalid argument") != std::string::npos;
}

TEST(Mounts, IdmappedBindMount) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir data;
    chmod(data.path().c_str(), 0755);  // root is not in the mount's mapping: it needs other's x
    std::ofstream(data.path() + "/owned") << "x";
    ASSERT_EQ(chown((data.path() + "/owned").c_str(), 5003, 6004), 0);
    Bundle b({"stat", "-c", "%u:%g", "/data/owned"});
    add_mount(b.config, "/data", "bind", data.path(), {"bind", "idmap"});
    b.config["mounts"].back()["uidMappings"] = {{{"containerID", 5000}, {"hostID", 1000}, {"size", 10}}};
    b.config["mounts"].back()["gidMappings"] = {{{"containerID", 6000}, {"hostID", 1000}, {"size", 10}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    if (idmap_unsupported(r)) GTEST_SKIP() << "this filesystem does not support idmapped mounts: " << r.err;
    ASSERT_EQ(r.code, 0) << r.err;
    // As in a user namespace's maps: an id on disk (containerID) shows as its hostID.
    EXPECT_EQ(trim(r.out), "1003:1004");
    expect_no_leftovers(k, id);
}

TEST(Mounts, IdmapWithoutMappingsFollowsTheJoinedUserNamespace) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // A holder of a user namespace mapping 0-65535 to 310000-375535, which the container joins
    // (as a pod's containers join their sandbox's).
    Bundle holder({"sleep", "100"}, true);
    set_namespace(holder.config, "user");
    holder.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 310000}, {"size", 65536}}};
    holder.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 310000}, {"size", 65536}}};
    ASSERT_EQ(sh("chown -R 310000:310000 " + holder.rootfs()).code, 0);
    holder.save();
    std::string hid = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", holder.dir(), hid}).code, 0);
    int pid = k.state(hid)["pid"];

    TempDir data;
    chmod(data.path().c_str(), 0755);
    std::ofstream(data.path() + "/roots") << "x";
    std::ofstream(data.path() + "/sevens") << "x";
    ASSERT_EQ(chown((data.path() + "/sevens").c_str(), 7, 7), 0);
    Bundle b({"sh", "-c", "stat -c %u:%g /data/roots /data/sevens /plain/roots && touch /data/made"}, true);
    ASSERT_EQ(sh("chown -R 310000:310000 " + b.rootfs()).code, 0);
    set_namespace(b.config, "user", "/proc/" + std::to_string(pid) + "/ns/user");
    add_mount(b.config, "/data", "bind", data.path(), {"rbind", "idmap"});
    add_mount(b.config, "/plain", "bind", data.path(), {"rbind"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(k({"delete", "--force", hid}).code, 0);
    if (idmap_unsupported(r)) GTEST_SKIP() << "this filesystem does not support idmapped mounts: " << r.err;
    ASSERT_EQ(r.code, 0) << r.err;
    // Through the idmapped mount the files show their owners on disk; the plain bind shows the
    // host's root as nobody. What the container's root writes is root's on disk.
    EXPECT_EQ(r.out, "0:0\n7:7\n65534:65534\n");
    EXPECT_EQ(sh("stat -c %u:%g " + data.path() + "/made").out, "0:0\n");
    expect_no_leftovers(k, id);
    expect_no_leftovers(k, hid);
}

TEST(Mounts, IdmapWithoutMappingsFollowsTheContainersOwnUserNamespace) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir data;
    chmod(data.path().c_str(), 0755);
    std::ofstream(data.path() + "/roots") << "x";
    Bundle b({"sh", "-c", "stat -c %u:%g /data/roots && touch /data/made"}, true);
    set_namespace(b.config, "user");
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 320000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 320000}, {"size", 65536}}};
    ASSERT_EQ(sh("chown -R 320000:320000 " + b.rootfs()).code, 0);
    add_mount(b.config, "/data", "bind", data.path(), {"bind", "idmap"});
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    if (idmap_unsupported(r)) GTEST_SKIP() << "this filesystem does not support idmapped mounts: " << r.err;
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "0:0\n");
    EXPECT_EQ(sh("stat -c %u:%g " + data.path() + "/made").out, "0:0\n");
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
