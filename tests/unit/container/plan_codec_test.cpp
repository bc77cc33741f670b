// The plan's wire form: what the runtime encodes, kiln-init decodes unchanged, and bytes that are
// cut short or corrupted decode to nothing instead of a half-filled plan or a crash.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>

#include <cstring>
#include <random>

#include "core/container/plan_codec.hpp"

namespace kiln::container {
namespace {

InitPlan sample_init_plan() {
    InitPlan p;
    p.ns.new_flags = CLONE_NEWNS | CLONE_NEWPID;
    p.ns.joins.push_back({"network", CLONE_NEWNET, "/run/netns/x", 7});
    p.ns.uid_map = "0 1000 65536\n";
    p.rootfs.rootfs = "/var/lib/b/rootfs";
    p.rootfs.readonly = true;
    p.rootfs.mounts.push_back({.field = "mounts[0]", .destination = "/proc", .source = "proc", .type = "proc",
                               .flags = MS_NOSUID, .propagation = {MS_PRIVATE}, .data = "hidepid=2"});
    p.rootfs.devices.push_back({.field = "linux.devices[0]", .path = "/dev/fuse", .mode = S_IFCHR | 0666,
                                .dev = makedev(10, 229), .uid = 5, .chown = true});
    p.rootfs.masked_paths = {"/proc/kcore", "/sys/firmware"};
    p.rootfs.sysctl = {{"/proc/sys/net/ipv4/ip_forward", "1"}};
    p.process.args = {"/bin/sh", "-c", "echo hi"};
    p.process.env = {"PATH=/bin", "TERM=xterm"};
    p.process.cwd = "/";
    p.process.uid = 1000;
    p.process.additional_gids = {10, 20};
    p.process.umask = 022;
    p.process.rlimits.push_back({"RLIMIT_NOFILE", RLIMIT_NOFILE, {1024, 4096}});
    p.process.oom_score_adj = -500;
    p.process.preserve_fds = 2;
    HookExec h;
    h.field = "hooks.createContainer[0]";
    h.args = {"/bin/hook", "a"};
    h.path = "/bin/hook";
    h.timeout_s = 3;
    p.create_container_hooks.push_back(h);
    p.hook_state.resize(128);
    p.session_keyring = "abc";
    p.cgroup_tasks = {11, 12};
    return p;
}

TEST(PlanCodec, InitPlanRoundTrips) {
    InitPlan in = sample_init_plan();
    auto out = decode_init_plan(encode(in));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->ns.new_flags, in.ns.new_flags);
    ASSERT_EQ(out->ns.joins.size(), 1u);
    EXPECT_EQ(out->ns.joins[0].path, "/run/netns/x");
    EXPECT_EQ(out->ns.joins[0].fd, 7);
    EXPECT_EQ(out->ns.uid_map, in.ns.uid_map);
    EXPECT_EQ(out->rootfs.rootfs, in.rootfs.rootfs);
    EXPECT_TRUE(out->rootfs.readonly);
    ASSERT_EQ(out->rootfs.mounts.size(), 1u);
    EXPECT_EQ(out->rootfs.mounts[0].data, "hidepid=2");
    EXPECT_EQ(out->rootfs.mounts[0].flags, static_cast<unsigned long>(MS_NOSUID));
    EXPECT_EQ(out->rootfs.mounts[0].propagation, (std::vector<unsigned long>{MS_PRIVATE}));
    ASSERT_EQ(out->rootfs.devices.size(), 1u);
    EXPECT_EQ(out->rootfs.devices[0].dev, makedev(10, 229));
    EXPECT_TRUE(out->rootfs.devices[0].chown);
    EXPECT_EQ(out->rootfs.masked_paths, in.rootfs.masked_paths);
    EXPECT_EQ(out->rootfs.sysctl, in.rootfs.sysctl);
    EXPECT_EQ(out->process.args, in.process.args);
    EXPECT_EQ(out->process.env, in.process.env);
    // argv and envp are rebuilt to point into the decoded strings.
    ASSERT_EQ(out->process.argv.size(), in.process.args.size() + 1);
    EXPECT_STREQ(out->process.argv[2], "echo hi");
    EXPECT_EQ(out->process.argv.back(), nullptr);
    EXPECT_EQ(out->process.additional_gids, in.process.additional_gids);
    EXPECT_EQ(out->process.umask, in.process.umask);
    ASSERT_EQ(out->process.rlimits.size(), 1u);
    EXPECT_EQ(out->process.rlimits[0].limit.rlim_max, 4096u);
    EXPECT_EQ(out->process.oom_score_adj, -500);
    EXPECT_EQ(out->process.preserve_fds, 2);
    ASSERT_EQ(out->create_container_hooks.size(), 1u);
    EXPECT_EQ(out->create_container_hooks[0].args, in.create_container_hooks[0].args);
    EXPECT_EQ(out->create_container_hooks[0].timeout_s, 3);
    EXPECT_EQ(out->hook_state.size(), 128u);
    EXPECT_EQ(out->session_keyring, "abc");
    EXPECT_EQ(out->cgroup_tasks, in.cgroup_tasks);
}

TEST(PlanCodec, ExecPlanRoundTrips) {
    ExecPlan in;
    in.process.args = {"ls"};
    in.process.cwd = "/tmp";
    in.pidfd = 4;
    in.join_flags = CLONE_NEWNET;
    in.cgroup_tasks = {9};
    auto out = decode_exec_plan(encode(in));
    ASSERT_TRUE(out);
    EXPECT_EQ(out->process.args, in.process.args);
    EXPECT_EQ(out->process.cwd, "/tmp");
    EXPECT_EQ(out->pidfd, 4);
    EXPECT_EQ(out->join_flags, CLONE_NEWNET);
    EXPECT_EQ(out->cgroup_tasks, in.cgroup_tasks);
}

TEST(PlanCodec, EveryTruncationIsRefused) {
    std::string bytes = encode(sample_init_plan());
    for (size_t n = 0; n < bytes.size(); ++n)
        EXPECT_FALSE(decode_init_plan(std::string_view(bytes).substr(0, n))) << "cut at " << n;
    EXPECT_FALSE(decode_init_plan(bytes + "x")) << "trailing bytes";
}

TEST(PlanCodec, CorruptedBytesNeverCrashOrAllocateWildly) {
    std::string good = encode(sample_init_plan());
    std::mt19937 rng(12345);
    size_t decoded = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string bytes = good;
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i) {
            size_t at = rng() % bytes.size();
            // Half the time a length-sized value: the likeliest way to ask for a huge allocation.
            if (rng() % 2 && at + 8 <= bytes.size()) {
                uint64_t v = rng() % 3 == 0 ? ~0ull : (1ull << (rng() % 63));
                std::memcpy(bytes.data() + at, &v, sizeof v);
            } else {
                bytes[at] = static_cast<char>(rng());
            }
        }
        auto p = decode_init_plan(bytes);
        if (!p) continue;
        ++decoded;
        // Whatever decodes is self-consistent: argv is null-terminated views of args and env.
        ASSERT_FALSE(p->process.argv.empty());
        EXPECT_EQ(p->process.argv.back(), nullptr);
        EXPECT_LE(p->hook_state.size(), good.size() + (4u << 20));
    }
    // Many corruptions (a byte of a string) still decode; the point is that none crashes.
    EXPECT_GT(decoded, 0u);
}

}  // namespace
}  // namespace kiln::container
