// /dev: the default devices and links, linux.devices made with mknod (or bound in a user
// namespace), and /dev/shm, /dev/pts from the config's mounts.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

TEST(Devices, DefaultDevicesAndLinks) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c",
              "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; "
              "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; "
              "test -d /dev/pts && test -d /dev/shm && echo dirs-ok; echo hi > /dev/null && echo null-ok"});
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const char* line : {"/dev/null character special file 1:3 666", "/dev/zero character special file 1:5 666",
                             "/dev/full character special file 1:7 666", "/dev/random character special file 1:8 666",
                             "/dev/urandom character special file 1:9 666", "/dev/tty character special file 5:0 666"})
        EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
    for (const char* link : {"/proc/self/fd\n", "/proc/self/fd/0\n", "/proc/self/fd/1\n", "/proc/self/fd/2\n", "pts/ptmx\n"})
        EXPECT_NE(r.out.find(link), std::string::npos) << link;
    EXPECT_NE(r.out.find("dirs-ok"), std::string::npos);
    EXPECT_NE(r.out.find("null-ok"), std::string::npos);
    expect_no_leftovers(k, id);
}

TEST(Devices, ConfigDevicesAreCreated) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "stat -c '%n %F %t:%T %a %u:%g' /dev/fuse-like /dev/sub/blk /dev/fifo"});
    b.config["linux"]["devices"] = {
        {{"path", "/dev/fuse-like"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0620}, {"uid", 7}, {"gid", 8}},
        {{"path", "/dev/sub/blk"}, {"type", "b"}, {"major", 7}, {"minor", 0}, {"fileMode", 0600}},
        {{"path", "/dev/fifo"}, {"type", "p"}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("/dev/fuse-like character special file a:e5 620 7:8"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/dev/sub/blk block special file 7:0 600 0:0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/dev/fifo fifo"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Devices, BoundInAUserNamespace) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "stat -c '%n %t:%T' /dev/null /dev/zero; head -c 4 /dev/zero | wc -c"}, true);
    b.config["linux"]["namespaces"].push_back({{"type", "user"}});
    b.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    b.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    // A user namespace cannot mount sysfs without its own network namespace here: keep both.
    b.save();
    ASSERT_EQ(sh("chown -R 100000:100000 " + b.rootfs()).code, 0);
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("/dev/null 1:3"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("/dev/zero 1:5"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("4"), std::string::npos);
    expect_no_leftovers(k, id);
}

TEST(Devices, BoundDevNeedsNoNodes) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // With the host's /dev bound, no device is made (the bind provides them).
    Bundle b({"sh", "-c", "test -c /dev/null && echo ok"});
    auto& mounts = b.config["mounts"];
    nlohmann::json kept = nlohmann::json::array();
    for (auto& m : mounts)
        if (m["destination"].get<std::string>().rfind("/dev", 0) != 0) kept.push_back(m);
    kept.push_back({{"destination", "/dev"}, {"type", "bind"}, {"source", "/dev"}, {"options", {"rbind", "nosuid"}}});
    b.config["mounts"] = kept;
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "ok\n");
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
