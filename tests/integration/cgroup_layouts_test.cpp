// The other cgroup layouts, on this hybrid host: kiln-runtime run in a private mount namespace
// that shows only the v1 hierarchies (a legacy host) or only a cgroup2 mount at /sys/fs/cgroup
// (a unified host). Each checks the container's cgroup from inside and that nothing remains.
#include <filesystem>

#include "core/cgroups/layout.hpp"
#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

// Runs kiln-runtime with `args` after `setup` (shell commands) in a private mount namespace.
Result run_in_view(const Kiln& k, const std::string& setup, const std::vector<std::string>& args) {
    std::string cmd = "mount --make-rprivate / && " + setup + " && exec " + runtime_binary() + " --root " + k.root();
    for (const auto& a : args) cmd += " '" + a + "'";
    return run({"unshare", "--mount", "sh", "-c", cmd});
}

bool have_hybrid_host() {
    auto layout = cgroups::detect_layout();
    return layout.mode == cgroups::Mode::hybrid && layout.unified() && layout.find("memory", "");
}

TEST(CgroupLayouts, LegacyHostView) {
    KILN_REQUIRE_ROOT();
    if (!have_hybrid_host()) GTEST_SKIP() << "needs a hybrid host to carve the views from";
    Kiln k;
    Bundle b({"sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ls /sys/fs/cgroup"});
    b.config["linux"]["resources"] = {{"memory", {{"limit", 48 << 20}}}, {"pids", {{"limit", 20}}}};
    b.save();
    std::string id = unique_id();
    Result r = run_in_view(k, "umount /sys/fs/cgroup/unified", {"run", "--bundle", b.dir(), id});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("50331648\n", 0), 0u) << r.out;
    EXPECT_EQ(r.out.find("unified"), std::string::npos) << "a legacy host has no v2 hierarchy: " << r.out;
    expect_no_leftovers(k, id);
}

TEST(CgroupLayouts, UnifiedHostView) {
    KILN_REQUIRE_ROOT();
    if (!have_hybrid_host()) GTEST_SKIP() << "needs a hybrid host to carve the views from";
    Kiln k;
    // Only hugetlb is enabled in this host's cgroup2 tree: a hugetlb limit and a unified key
    // exercise the v2 controller files; the cgroup namespace shows the container's own cgroup.
    Bundle b({"sh", "-c", "cat /sys/fs/cgroup/cgroup.max.descendants; cat /proc/self/cgroup; "
                          "grep ' /sys/fs/cgroup ' /proc/self/mountinfo"});
    b.config["linux"]["resources"] = {{"unified", {{"cgroup.max.descendants", "3"}}},
                                      {"hugepageLimits", {{{"pageSize", "2MB"}, {"limit", 2097152}}}}};
    b.save();
    std::string id = unique_id();
    std::string setup =
        "for m in $(awk '$9 == \"cgroup\" || $9 == \"cgroup2\" {print $5}' /proc/self/mountinfo | sort -r); do "
        "umount \"$m\"; done && mount -t cgroup2 none /sys/fs/cgroup";
    Result r = run_in_view(k, setup, {"run", "--bundle", b.dir(), id});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("3\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("\n0::/\n"), std::string::npos) << "the v2 cgroup is the namespace's root: " << r.out;
    EXPECT_NE(r.out.find("cgroup2"), std::string::npos) << "a cgroup2 mount, not a tree of v1 ones: " << r.out;
    // The container's v2 cgroup is gone from the real hierarchy too.
    expect_no_leftovers(k, id);
    Bundle mem({"true"});
    mem.config["linux"]["resources"] = {{"memory", {{"limit", 48 << 20}}}};
    mem.save();
    Result no_memory = run_in_view(k, setup, {"run", "--bundle", mem.dir(), id});
    EXPECT_NE(no_memory.code, 0);
    EXPECT_NE(no_memory.err.find("linux.resources.memory: the memory controller is not available on this host"),
              std::string::npos)
        << no_memory.err;
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
