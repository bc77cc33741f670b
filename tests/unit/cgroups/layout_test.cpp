// Cgroup layout detection from mountinfo (v1, v2, hybrid) and /proc/<pid>/cgroup parsing.
#include "core/cgroups/layout.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/sys/mountinfo.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::cgroups {
namespace {

using kiln::testing::put_file;
using kiln::testing::TempDir;

MountInfo cgroup_mount(const std::string& mount_point, const std::string& super_options,
                       const std::string& fstype = "cgroup", const std::string& root = "/") {
    MountInfo m;
    m.root = root;
    m.mount_point = mount_point;
    m.options = "rw,nosuid,nodev,noexec,relatime";
    m.fstype = fstype;
    m.source = fstype;
    m.super_options = super_options;
    return m;
}

MountInfo other_mount(const std::string& mount_point, const std::string& fstype) {
    MountInfo m;
    m.root = "/";
    m.mount_point = mount_point;
    m.fstype = fstype;
    m.source = fstype;
    m.super_options = "rw";
    return m;
}

// A pure v1 host as systemd sets it up (cpu,cpuacct and net_cls,net_prio comounted).
std::vector<MountInfo> v1_host() {
    return {
        other_mount("/", "ext4"),
        other_mount("/sys/fs/cgroup", "tmpfs"),
        cgroup_mount("/sys/fs/cgroup/systemd", "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd"),
        cgroup_mount("/sys/fs/cgroup/cpu,cpuacct", "rw,cpu,cpuacct"),
        cgroup_mount("/sys/fs/cgroup/net_cls,net_prio", "rw,net_cls,net_prio"),
        cgroup_mount("/sys/fs/cgroup/memory", "rw,memory"),
        cgroup_mount("/sys/fs/cgroup/cpuset", "rw,cpuset,clone_children"),
        cgroup_mount("/sys/fs/cgroup/pids", "rw,pids"),
        cgroup_mount("/sys/fs/cgroup/freezer", "rw,freezer"),
        cgroup_mount("/sys/fs/cgroup/devices", "rw,devices"),
    };
}

TEST(Layout, PureV1HostIsLegacy) {
    Layout l = detect_layout(v1_host());
    EXPECT_EQ(l.mode, Mode::legacy);
    EXPECT_EQ(l.unified(), nullptr);
    EXPECT_EQ(l.hierarchies.size(), 8u);
    for (const auto& h : l.hierarchies) EXPECT_EQ(h.version, Version::v1) << h.mount_point;
}

TEST(Layout, V1ComountedControllersShareOneHierarchy) {
    Layout l = detect_layout(v1_host());
    const Hierarchy* cpu = l.find("cpu");
    const Hierarchy* cpuacct = l.find("cpuacct");
    ASSERT_NE(cpu, nullptr);
    EXPECT_EQ(cpu, cpuacct);
    EXPECT_EQ(cpu->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(cpu->controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
    EXPECT_EQ(cpu->proc_key, "cpu,cpuacct");

    const Hierarchy* net = l.find("net_prio");
    ASSERT_NE(net, nullptr);
    EXPECT_EQ(net, l.find("net_cls"));
    EXPECT_EQ(net->proc_key, "net_cls,net_prio");
}

TEST(Layout, V1MountFlagsAreNotControllers) {
    Layout l = detect_layout(v1_host());
    const Hierarchy* cpuset = l.find("cpuset");
    ASSERT_NE(cpuset, nullptr);
    EXPECT_EQ(cpuset->controllers, (std::vector<std::string>{"cpuset"}));
    EXPECT_EQ(cpuset->proc_key, "cpuset");
    EXPECT_EQ(l.find("clone_children"), nullptr);
    EXPECT_EQ(l.find("rw"), nullptr);
    EXPECT_EQ(l.find("xattr"), nullptr);
}

TEST(Layout, V1NamedHierarchyHasNameAndKeyButNoControllers) {
    Layout l = detect_layout(v1_host());
    const Hierarchy* systemd = nullptr;
    for (const auto& h : l.hierarchies)
        if (h.name == "systemd") systemd = &h;
    ASSERT_NE(systemd, nullptr);
    EXPECT_EQ(systemd->mount_point, "/sys/fs/cgroup/systemd");
    EXPECT_TRUE(systemd->controllers.empty());
    EXPECT_EQ(systemd->proc_key, "name=systemd");
    // release_agent=... is an option with '=' and no controller.
    EXPECT_EQ(l.find("release_agent=/lib/systemd/systemd-cgroups-agent"), nullptr);
}

TEST(Layout, V1OnlyHostDoesNotFindV2OnlyControllers) {
    Layout l = detect_layout(v1_host());
    EXPECT_EQ(l.find("hugetlb"), nullptr);
    EXPECT_EQ(l.find("io"), nullptr);
    EXPECT_EQ(l.find("memory")->mount_point, "/sys/fs/cgroup/memory");
}

TEST(Layout, ProcKeyFollowsTheKernelsControllerOrder) {
    // /proc/<pid>/cgroup lists a hierarchy's controllers in the kernel's subsystem order, the
    // same order as the mount's super options ("cpuset,cpu,cpuacct"), then name=. Relative
    // cgroupsPath resolution looks the hierarchy up by this key.
    Layout l = detect_layout({cgroup_mount("/sys/fs/cgroup/cpuset,cpu,cpuacct", "rw,cpuset,cpu,cpuacct"),
                              cgroup_mount("/sys/fs/cgroup/perf_event", "rw,perf_event,name=perf")});
    ASSERT_EQ(l.hierarchies.size(), 2u);
    EXPECT_EQ(l.hierarchies[0].proc_key, "cpuset,cpu,cpuacct");
    EXPECT_EQ(l.hierarchies[1].proc_key, "perf_event,name=perf");
}

TEST(Layout, DuplicateV1MountsOfOneHierarchyAreSkipped) {
    auto mounts = v1_host();
    // The same memory hierarchy bind-mounted elsewhere (as a container runtime would).
    mounts.push_back(cgroup_mount("/var/lib/x/rootfs/sys/fs/cgroup/memory", "rw,memory", "cgroup", "/docker/abc"));
    mounts.push_back(cgroup_mount("/other/cpu,cpuacct", "rw,cpu,cpuacct"));
    Layout l = detect_layout(mounts);
    EXPECT_EQ(l.hierarchies.size(), 8u);
    EXPECT_EQ(l.find("memory")->mount_point, "/sys/fs/cgroup/memory");
    EXPECT_EQ(l.find("memory")->root, "/");
    EXPECT_EQ(l.find("cpu")->mount_point, "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(Layout, PureV2HostReadsControllersFromCgroupControllers) {
    TempDir tmp;
    put_file(tmp / "cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
    Layout l = detect_layout({other_mount("/", "ext4"), cgroup_mount(tmp.path(), "rw,nsdelegate", "cgroup2")});
    EXPECT_EQ(l.mode, Mode::unified);
    ASSERT_EQ(l.hierarchies.size(), 1u);
    const Hierarchy* u = l.unified();
    ASSERT_NE(u, nullptr);
    EXPECT_EQ(u->version, Version::v2);
    EXPECT_EQ(u->mount_point, tmp.path());
    EXPECT_EQ(u->proc_key, "");
    EXPECT_EQ(u->controllers,
              (std::vector<std::string>{"cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"}));
    EXPECT_EQ(l.find("memory"), u);
    EXPECT_EQ(l.find("blkio", "io"), u);
    // Not listed in cgroup.controllers, or v1-only.
    EXPECT_EQ(l.find("freezer"), nullptr);
    EXPECT_EQ(l.find("net_cls", ""), nullptr);
}

TEST(Layout, V2WithoutCgroupControllersFileHasNoControllers) {
    TempDir tmp;
    Layout l = detect_layout({cgroup_mount(tmp.path(), "rw", "cgroup2")});
    EXPECT_EQ(l.mode, Mode::unified);
    ASSERT_NE(l.unified(), nullptr);
    EXPECT_TRUE(l.unified()->controllers.empty());
    EXPECT_EQ(l.find("memory"), nullptr);
}

TEST(Layout, EmptyCgroupControllersFileHasNoControllers) {
    TempDir tmp;
    put_file(tmp / "cgroup.controllers", "\n");
    Layout l = detect_layout({cgroup_mount(tmp.path(), "rw", "cgroup2")});
    ASSERT_NE(l.unified(), nullptr);
    EXPECT_TRUE(l.unified()->controllers.empty());
}

TEST(Layout, OnlyTheFirstCgroup2MountCounts) {
    TempDir tmp;
    put_file(tmp / "a/cgroup.controllers", "memory\n");
    put_file(tmp / "b/cgroup.controllers", "pids\n");
    Layout l = detect_layout({cgroup_mount(tmp / "a", "rw", "cgroup2"), cgroup_mount(tmp / "b", "rw", "cgroup2")});
    ASSERT_EQ(l.hierarchies.size(), 1u);
    EXPECT_EQ(l.unified()->mount_point, tmp / "a");
    EXPECT_EQ(l.find("pids"), nullptr);
}

TEST(Layout, HybridHostPrefersV1AndFallsBackToUnified) {
    TempDir tmp;
    // systemd's hybrid mode: v1 controllers plus cgroup2 at .../unified. On such hosts the
    // unified hierarchy's cgroup.controllers lists what no v1 hierarchy has taken.
    std::string unified = tmp / "unified";
    put_file(unified + "/cgroup.controllers", "hugetlb rdma\n");
    auto mounts = v1_host();
    mounts.push_back(cgroup_mount(unified, "rw,nsdelegate", "cgroup2"));
    Layout l = detect_layout(mounts);
    EXPECT_EQ(l.mode, Mode::hybrid);
    ASSERT_NE(l.unified(), nullptr);
    EXPECT_EQ(l.unified()->mount_point, unified);
    EXPECT_EQ(l.find("memory")->version, Version::v1);
    EXPECT_EQ(l.find("memory")->mount_point, "/sys/fs/cgroup/memory");
    EXPECT_EQ(l.find("hugetlb"), l.unified());
    EXPECT_EQ(l.find("rdma"), l.unified());
    EXPECT_EQ(l.find("io"), nullptr);
}

TEST(Layout, V1WinsOverUnifiedWhenBothListAController) {
    TempDir tmp;
    put_file(tmp / "cgroup.controllers", "memory pids\n");
    Layout l = detect_layout({cgroup_mount(tmp.path(), "rw", "cgroup2"), cgroup_mount("/sys/fs/cgroup/memory", "rw,memory")});
    EXPECT_EQ(l.mode, Mode::hybrid);
    EXPECT_EQ(l.find("memory")->version, Version::v1);
    EXPECT_EQ(l.find("pids")->version, Version::v2);
}

TEST(Layout, HierarchyRootComesFromMountinfo) {
    Layout l = detect_layout({cgroup_mount("/sys/fs/cgroup/memory", "rw,memory", "cgroup", "/docker/abc")});
    EXPECT_EQ(l.find("memory")->root, "/docker/abc");
}

TEST(Layout, NoCgroupMountsIsUnifiedWithNothing) {
    Layout l = detect_layout({other_mount("/", "ext4")});
    EXPECT_TRUE(l.hierarchies.empty());
    EXPECT_EQ(l.unified(), nullptr);
    EXPECT_EQ(l.find("memory"), nullptr);
}

TEST(Layout, DetectsThisProcessesLayoutWithoutThrowing) {
    // Whatever the host has; only that the real mountinfo goes through the same path.
    EXPECT_NO_THROW(detect_layout());
}

TEST(ProcCgroup, ParsesV1AndV2Lines) {
    auto entries = parse_proc_cgroup(
        "12:cpu,cpuacct:/user.slice\n"
        "4:name=systemd:/user.slice/user-1000.slice/session-2.scope\n"
        "3:net_cls,net_prio:/\n"
        "0::/user.slice/user-1000.slice/session-2.scope\n");
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[0], (std::pair<std::string, std::string>{"cpu,cpuacct", "/user.slice"}));
    EXPECT_EQ(entries[1].first, "name=systemd");
    EXPECT_EQ(entries[1].second, "/user.slice/user-1000.slice/session-2.scope");
    EXPECT_EQ(entries[2], (std::pair<std::string, std::string>{"net_cls,net_prio", "/"}));
    EXPECT_EQ(entries[3].first, "");
    EXPECT_EQ(entries[3].second, "/user.slice/user-1000.slice/session-2.scope");
}

TEST(ProcCgroup, PathMayContainColons) {
    auto entries = parse_proc_cgroup("0::/system.slice/docker-a:b.scope\n");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].second, "/system.slice/docker-a:b.scope");
}

TEST(ProcCgroup, SkipsLinesWithoutTwoColons) {
    auto entries = parse_proc_cgroup("garbage\n5:memory\n\n6:pids:/x\n");
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].first, "pids");
    EXPECT_EQ(entries[0].second, "/x");
}

}  // namespace
}  // namespace kiln::cgroups
