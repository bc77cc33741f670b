// maskedPaths, readonlyPaths and sysctl, checked from inside the container.
#include <filesystem>
#include <fstream>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

TEST(Paths, MaskedPathsAreUnreadable) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; cat /proc/keys | wc -c; "
                          "touch /sys/firmware/x 2>&1; true"});
    b.save();  // the spec default masks /proc/kcore, /proc/keys, /sys/firmware, ...
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("0\n0\n0\n", 0), 0u) << "masked files read empty, masked dirs are empty: " << r.out;
    EXPECT_NE(r.out.find("Read-only file system"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Paths, MaskedPathsOfOurOwnAndMissingOnes) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "cat /etc/passwd | wc -c; ls /home | wc -l"}, true);
    b.config["linux"]["maskedPaths"] = {"/etc/passwd", "/home", "/does/not/exist"};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "0\n0\n");
    expect_no_leftovers(k, id);
}

TEST(Paths, ReadonlyPathsRefuseWrites) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "(echo 1 > /proc/sys/kernel/domainname) 2>&1; touch /home/user/f 2>&1; touch /tmp/ok && echo tmp-ok"},
             true);
    b.config["linux"]["readonlyPaths"] = {"/proc/sys", "/home", "/nope"};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    size_t first = r.out.find("Read-only file system");
    EXPECT_NE(first, std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Read-only file system", first + 1), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tmp-ok"), std::string::npos);
    EXPECT_FALSE(fs::exists(b.rootfs() + "/home/user/f"));
    expect_no_leftovers(k, id);
}

TEST(Paths, NamespacedSysctlsAreWritten) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni /proc/sys/net/core/somaxconn"});
    b.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}, {"net.core.somaxconn", "77"}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, "1\n1234\n77\n");
    std::ifstream host("/proc/sys/kernel/shmmni");
    std::string hv;
    host >> hv;
    EXPECT_NE(hv, "1234") << "the host's value must not change";
    expect_no_leftovers(k, id);
}

TEST(Paths, HostSysctlsAreRefused) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    b.config["linux"]["sysctl"] = {{"vm.swappiness", "10"}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.sysctl.vm.swappiness: is not a namespaced sysctl"), std::string::npos) << r.err;
    // A network sysctl needs the container's own network namespace.
    auto& ns = b.config["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i)
        if (ns[i]["type"] == "network") ns.erase(i);
    b.config["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    b.save();
    Result r2 = k.run(b, id);
    EXPECT_NE(r2.code, 0);
    EXPECT_NE(r2.err.find("requires a network namespace of the container's own"), std::string::npos) << r2.err;
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
