// config.json -> the plan init follows: namespaces, capabilities, process attributes, devices,
// mounts, sysctls, and the errors that name the config field.
#include "core/container/plan.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/oci/spec.hpp"
#include "core/sys/error.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::container {
namespace {

using kiln::testing::make_dirs;
using kiln::testing::put_file;
using kiln::testing::TempDir;

constexpr int kNewTime = 0x00000080;  // CLONE_NEWTIME

// A bundle directory with an empty rootfs/ and a spec that uses it.
class PlanTest : public ::testing::Test {
protected:
    PlanTest() {
        make_dirs(bundle / "rootfs");
        spec.oci_version = "1.2.0";
        spec.process = oci::Process{};
        spec.process->args = {"/bin/sh", "-c", "echo hi"};
        spec.process->env = {"PATH=/opt/bin:/bin", "TERM=xterm"};
        spec.process->cwd = "/";
        spec.root = oci::Root{.path = "rootfs"};
        spec.linux = oci::Linux{};
        spec.linux->namespaces = {{"pid", ""}, {"mount", ""}};
        inputs.bundle = bundle.path();
    }

    InitPlan plan() { return build_init_plan(spec, inputs); }

    // The message of the kiln::Error building the plan throws ("" when it does not throw).
    std::string plan_error() {
        try {
            plan();
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
            return e.what();
        }
        return "";
    }

    oci::Mount& add_mount(std::string destination, std::string type, std::string source,
                          std::vector<std::string> options = {}) {
        spec.mounts.push_back({.destination = std::move(destination), .type = std::move(type),
                               .source = std::move(source), .options = std::move(options)});
        return spec.mounts.back();
    }

    TempDir bundle;
    oci::Spec spec;
    PlanInputs inputs;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// ---- namespaces ------------------------------------------------------------------------------

TEST_F(PlanTest, NewNamespacesAreCloneFlags) {
    spec.linux->namespaces = {{"pid", ""}, {"network", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"cgroup", ""}};
    InitPlan p = plan();
    EXPECT_EQ(p.ns.new_flags, CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWCGROUP);
    EXPECT_TRUE(p.ns.joins.empty());
    EXPECT_FALSE(p.ns.two_stage);
    EXPECT_TRUE(p.ns.new_pid());
    EXPECT_TRUE(p.ns.new_mount());
    EXPECT_TRUE(p.ns.new_cgroup());
    EXPECT_FALSE(p.ns.new_user());
    EXPECT_EQ(p.ns.uid_map, "");
}

TEST_F(PlanTest, NamespaceJoinedByPathNeedsTwoStages) {
    spec.linux->namespaces = {{"pid", ""}, {"network", "/proc/123/ns/net"}, {"mount", ""}};
    InitPlan p = plan();
    EXPECT_EQ(p.ns.new_flags, CLONE_NEWPID | CLONE_NEWNS);
    ASSERT_EQ(p.ns.joins.size(), 1u);
    EXPECT_EQ(p.ns.joins[0].type, "network");
    EXPECT_EQ(p.ns.joins[0].flag, CLONE_NEWNET);
    EXPECT_EQ(p.ns.joins[0].path, "/proc/123/ns/net");
    EXPECT_EQ(p.ns.joins[0].fd, -1);  // opened by the runtime later
    EXPECT_TRUE(p.ns.two_stage);
}

TEST_F(PlanTest, TimeOffsetsNeedTwoStages) {
    spec.linux->namespaces.push_back({"time", ""});
    spec.linux->time_offsets = {{"monotonic", {.secs = -5, .nanosecs = 0}}, {"boottime", {.secs = 1, .nanosecs = 2}}};
    InitPlan p = plan();
    EXPECT_TRUE(p.ns.new_flags & kNewTime);
    EXPECT_EQ(p.ns.time_offsets, "boottime 1 2\nmonotonic -5 0\n");
    EXPECT_TRUE(p.ns.two_stage);
}

TEST_F(PlanTest, NewUserNamespaceGetsMapText) {
    spec.linux->namespaces.push_back({"user", ""});
    spec.linux->uid_mappings = {{.container_id = 0, .host_id = 1000, .size = 1}};
    spec.linux->gid_mappings = {{0, 1000, 1}, {1, 100000, 65536}};
    InitPlan p = plan();
    EXPECT_TRUE(p.ns.new_user());
    EXPECT_EQ(p.ns.uid_map, "0 1000 1\n");
    EXPECT_EQ(p.ns.gid_map, "0 1000 1\n1 100000 65536\n");
    EXPECT_FALSE(p.ns.two_stage);
}

TEST_F(PlanTest, JoinedUserNamespaceHasNoMapsToWrite) {
    spec.linux->namespaces.push_back({"user", "/proc/55/ns/user"});
    spec.linux->uid_mappings = {{0, 1000, 1}};
    InitPlan p = plan();
    EXPECT_FALSE(p.ns.new_user());
    EXPECT_EQ(p.ns.uid_map, "");
    EXPECT_TRUE(p.ns.two_stage);
    EXPECT_TRUE(p.rootfs.bind_devices);  // no mknod in a user namespace, joined or new
}

// ---- capabilities ----------------------------------------------------------------------------

TEST(CapabilityMasks, NamesBecomeBitNumbers) {
    oci::Capabilities caps;
    caps.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"};
    caps.effective = {"CAP_KILL"};
    caps.permitted = {"CAP_KILL", "CAP_SYS_ADMIN"};
    caps.inheritable = {"CAP_CHECKPOINT_RESTORE"};
    Capabilities c = capability_masks(caps, "process.capabilities");
    EXPECT_EQ(c.bounding, (1ULL << 0) | (1ULL << 5) | (1ULL << 10) | (1ULL << 21));
    EXPECT_EQ(c.effective, 1ULL << 5);
    EXPECT_EQ(c.permitted, (1ULL << 5) | (1ULL << 21));
    EXPECT_EQ(c.inheritable, 1ULL << 40);
    EXPECT_EQ(c.ambient, 0u);
}

TEST(CapabilityMasks, UnknownNameIsAnErrorNamingTheSetAndIndex) {
    oci::Capabilities caps;
    caps.effective = {"CAP_KILL", "CAP_FLY"};
    try {
        capability_masks(caps, "process.capabilities");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        EXPECT_EQ(std::string(e.what()), "process.capabilities.effective[1]: unknown capability \"CAP_FLY\"");
    }
}

TEST(CapabilityMasks, NamesAreMatchedExactly) {
    oci::Capabilities caps;
    caps.bounding = {"cap_kill"};
    EXPECT_THROW(capability_masks(caps, "process.capabilities"), Error);
}

TEST_F(PlanTest, AmbientCapsNotPermittedAndInheritableAreDropped) {
    spec.process->capabilities = oci::Capabilities{
        .bounding = {"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
        .effective = {"CAP_KILL"},
        .inheritable = {"CAP_KILL", "CAP_CHOWN"},
        .permitted = {"CAP_KILL", "CAP_NET_BIND_SERVICE"},
        .ambient = {"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
    };
    InitPlan p = plan();
    ASSERT_TRUE(p.process.caps);
    EXPECT_EQ(p.process.caps->ambient, 1ULL << 5);  // only CAP_KILL is both
    EXPECT_EQ(p.process.caps->permitted, (1ULL << 5) | (1ULL << 10));
    EXPECT_GE(p.process.last_cap, 0);
}

TEST_F(PlanTest, UnknownCapabilityInTheSpecNamesProcessCapabilities) {
    spec.process->capabilities = oci::Capabilities{.permitted = {"CAP_NOPE"}};
    EXPECT_EQ(plan_error(), "process.capabilities.permitted[0]: unknown capability \"CAP_NOPE\"");
}

TEST_F(PlanTest, NoCapabilitiesObjectMeansNoCapabilityStep) {
    EXPECT_FALSE(plan().process.caps);
}

// ---- process attributes ----------------------------------------------------------------------

TEST_F(PlanTest, RlimitsByNumber) {
    spec.process->rlimits = {{"RLIMIT_NOFILE", 4096, 1024}, {"RLIMIT_CORE", 0, 0}};
    InitPlan p = plan();
    ASSERT_EQ(p.process.rlimits.size(), 2u);
    EXPECT_EQ(p.process.rlimits[0].type, "RLIMIT_NOFILE");
    EXPECT_EQ(p.process.rlimits[0].resource, RLIMIT_NOFILE);
    EXPECT_EQ(p.process.rlimits[0].limit.rlim_cur, 1024u);
    EXPECT_EQ(p.process.rlimits[0].limit.rlim_max, 4096u);
    EXPECT_EQ(p.process.rlimits[1].resource, RLIMIT_CORE);
}

TEST_F(PlanTest, UnknownRlimitNamesItsIndex) {
    spec.process->rlimits = {{"RLIMIT_NOFILE", 1, 1}, {"RLIMIT_FOO", 1, 1}};
    EXPECT_EQ(plan_error(), "process.rlimits[1].type: unknown rlimit \"RLIMIT_FOO\"");
}

TEST_F(PlanTest, IoPriorityIsClassShiftedByThirteenOrPriority) {
    auto ioprio = [&](const std::string& cls, int32_t prio) {
        spec.process->io_priority = oci::IoPriority{.io_class = cls, .priority = prio};
        return plan().process.ioprio;
    };
    EXPECT_EQ(ioprio("IOPRIO_CLASS_RT", 0), 1 << 13);
    EXPECT_EQ(ioprio("IOPRIO_CLASS_BE", 4), (2 << 13) | 4);
    EXPECT_EQ(ioprio("IOPRIO_CLASS_IDLE", 7), (3 << 13) | 7);
    spec.process->io_priority.reset();
    EXPECT_FALSE(plan().process.ioprio);
}

TEST_F(PlanTest, SchedulerPolicyAndFlagNumbersAreTheKernels) {
    auto policy = [&](const std::string& name) {
        spec.process->scheduler = oci::Scheduler{.policy = name};
        return plan().process.scheduler->policy;
    };
    EXPECT_EQ(policy("SCHED_OTHER"), static_cast<uint32_t>(SCHED_OTHER));
    EXPECT_EQ(policy("SCHED_FIFO"), static_cast<uint32_t>(SCHED_FIFO));
    EXPECT_EQ(policy("SCHED_RR"), static_cast<uint32_t>(SCHED_RR));
    EXPECT_EQ(policy("SCHED_BATCH"), static_cast<uint32_t>(SCHED_BATCH));
    EXPECT_EQ(policy("SCHED_IDLE"), static_cast<uint32_t>(SCHED_IDLE));
    EXPECT_EQ(policy("SCHED_DEADLINE"), 6u);

    spec.process->scheduler = oci::Scheduler{.policy = "SCHED_DEADLINE",
                                             .nice = -5,
                                             .priority = 10,
                                             .flags = {"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_UTIL_CLAMP_MAX"},
                                             .runtime = 1000,
                                             .deadline = 2000,
                                             .period = 3000};
    SchedAttr s = *plan().process.scheduler;
    EXPECT_EQ(s.flags, 0x01u | 0x40u);
    EXPECT_EQ(s.nice, -5);
    EXPECT_EQ(s.priority, 10u);
    EXPECT_EQ(s.runtime, 1000u);
    EXPECT_EQ(s.deadline, 2000u);
    EXPECT_EQ(s.period, 3000u);
}

TEST_F(PlanTest, PersonalityDomain) {
    spec.linux->personality = oci::Personality{.domain = "LINUX32"};
    EXPECT_EQ(plan().process.personality, static_cast<unsigned long>(PER_LINUX32));
    spec.linux->personality = oci::Personality{.domain = "LINUX"};
    EXPECT_EQ(plan().process.personality, static_cast<unsigned long>(PER_LINUX));
    spec.linux->personality->flags = {"SHORT_INODE"};
    EXPECT_EQ(plan_error(), "linux.personality.flags: no personality flags are supported");
    spec.linux->personality.reset();
    EXPECT_FALSE(plan().process.personality);
}

TEST_F(PlanTest, UserUmaskAndGroups) {
    spec.process->user = oci::User{.uid = 1000, .gid = 100, .umask = 07027, .additional_gids = {5, 6}};
    ProcessPlan p = plan().process;
    EXPECT_EQ(p.uid, 1000u);
    EXPECT_EQ(p.gid, 100u);
    EXPECT_EQ(p.umask, static_cast<mode_t>(0027));
    EXPECT_EQ(p.additional_gids, (std::vector<gid_t>{5, 6}));
}

TEST_F(PlanTest, PathComesFromTheEnvironmentOrTheDefault) {
    EXPECT_EQ(plan().process.path_env, "/opt/bin:/bin");
    spec.process->env = {"HOME=/root"};
    EXPECT_EQ(plan().process.path_env, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

TEST_F(PlanTest, ArgvAndEnvpAreNullTerminatedViewsOfArgsAndEnv) {
    InitPlan p = plan();
    const ProcessPlan& pp = p.process;
    ASSERT_EQ(pp.argv.size(), pp.args.size() + 1);
    ASSERT_EQ(pp.envp.size(), pp.env.size() + 1);
    for (size_t i = 0; i < pp.args.size(); ++i) {
        EXPECT_EQ(pp.argv[i], pp.args[i].data()) << i;
        EXPECT_STREQ(pp.argv[i], spec.process->args[i].c_str());
    }
    for (size_t i = 0; i < pp.env.size(); ++i) EXPECT_EQ(pp.envp[i], pp.env[i].data()) << i;
    EXPECT_EQ(pp.argv.back(), nullptr);
    EXPECT_EQ(pp.envp.back(), nullptr);
}

TEST(ProcessPlan, ExecProcessPlanWithoutSpec) {
    oci::Process proc;
    proc.args = {"/bin/true"};
    proc.cwd = "/tmp";
    proc.terminal = true;
    proc.console_size = oci::ConsoleSize{.height = 40, .width = 120};
    ProcessPlan p = build_process_plan(proc, nullptr);
    EXPECT_EQ(p.cwd, "/tmp");
    EXPECT_TRUE(p.terminal);
    EXPECT_EQ(p.console_height, 40);
    EXPECT_EQ(p.console_width, 120);
    ASSERT_EQ(p.argv.size(), 2u);
    EXPECT_EQ(p.argv[0], p.args[0].data());
    EXPECT_EQ(p.argv[1], nullptr);
    ASSERT_EQ(p.envp.size(), 1u);
    EXPECT_EQ(p.envp[0], nullptr);
    EXPECT_FALSE(p.personality);
}

TEST_F(PlanTest, TerminalWithoutConsoleSocketIsAnError) {
    spec.process->terminal = true;
    EXPECT_TRUE(starts_with(plan_error(), "process.terminal: ")) << plan_error();
    inputs.console_socket = 7;
    InitPlan p = plan();
    EXPECT_TRUE(p.process.terminal);
    EXPECT_EQ(p.console_socket, 7);
}

// ---- rootfs ----------------------------------------------------------------------------------

TEST_F(PlanTest, RootfsIsRelativeToTheBundle) {
    InitPlan p = plan();
    EXPECT_EQ(p.rootfs.rootfs, bundle / "rootfs");
    spec.root->path = bundle / "rootfs";
    EXPECT_EQ(plan().rootfs.rootfs, bundle / "rootfs");
}

TEST_F(PlanTest, MissingOrNonDirectoryRootfsIsAnError) {
    spec.root->path = "nope";
    EXPECT_EQ(plan_error(), "root.path: " + (bundle / "nope") + ": No such file or directory");
    put_file(bundle / "file");
    spec.root->path = "file";
    EXPECT_EQ(plan_error(), "root.path: " + (bundle / "file") + " is not a directory");
}

TEST_F(PlanTest, RootPropagationDefaultsToRslave) {
    InitPlan p = plan();
    EXPECT_EQ(p.rootfs.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
    EXPECT_EQ(p.rootfs.final_propagation, 0u);
    spec.linux->rootfs_propagation = "rshared";
    p = plan();
    EXPECT_EQ(p.rootfs.propagation, static_cast<unsigned long>(MS_SHARED | MS_REC));
    EXPECT_EQ(p.rootfs.final_propagation, static_cast<unsigned long>(MS_SHARED | MS_REC));
}

TEST_F(PlanTest, HostnameMaskedReadonlyAndCwd) {
    spec.hostname = "box";
    spec.process->cwd = "/work";
    spec.linux->masked_paths = {"/proc/kcore"};
    spec.linux->readonly_paths = {"/proc/sys"};
    InitPlan p = plan();
    EXPECT_TRUE(p.rootfs.set_hostname);
    EXPECT_EQ(p.rootfs.hostname, "box");
    EXPECT_FALSE(p.rootfs.set_domainname);
    EXPECT_EQ(p.rootfs.cwd, "/work");
    EXPECT_EQ(p.rootfs.masked_paths, (std::vector<std::string>{"/proc/kcore"}));
    EXPECT_EQ(p.rootfs.readonly_paths, (std::vector<std::string>{"/proc/sys"}));
}

TEST_F(PlanTest, SysctlKeysBecomeProcSysPaths) {
    spec.linux->sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shm_rmid_forced", "1"}, {"net/core/somaxconn", "512"}};
    InitPlan p = plan();
    EXPECT_EQ(p.rootfs.sysctl, (std::vector<std::pair<std::string, std::string>>{
                                   {"/proc/sys/kernel/shm_rmid_forced", "1"},
                                   {"/proc/sys/net/ipv4/ip_forward", "1"},
                                   {"/proc/sys/net/core/somaxconn", "512"}}));
}

// ---- devices ---------------------------------------------------------------------------------

TEST_F(PlanTest, DefaultDevicesWhenDevIsNotABindMount) {
    add_mount("/dev", "tmpfs", "tmpfs", {"nosuid", "mode=755"});
    InitPlan p = plan();
    EXPECT_TRUE(p.rootfs.setup_dev);
    EXPECT_FALSE(p.rootfs.bind_devices);
    std::vector<std::string> paths;
    for (const auto& d : p.rootfs.devices) {
        paths.push_back(d.path);
        EXPECT_EQ(d.mode, static_cast<mode_t>(S_IFCHR | 0666)) << d.path;
        EXPECT_FALSE(d.chown) << d.path;
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
                                               "/dev/tty"}));
    EXPECT_EQ(p.rootfs.devices[0].dev, makedev(1, 3));
    EXPECT_EQ(p.rootfs.devices[5].dev, makedev(5, 0));
}

TEST_F(PlanTest, NoDefaultDevicesWhenDevIsABindMount) {
    add_mount("/dev", "bind", "/dev", {"rbind"});
    spec.linux->devices = {{.type = "c", .path = "/dev/fuse", .major = 10, .minor = 229}};
    InitPlan p = plan();
    EXPECT_FALSE(p.rootfs.setup_dev);
    ASSERT_EQ(p.rootfs.devices.size(), 1u);
    EXPECT_EQ(p.rootfs.devices[0].path, "/dev/fuse");
    EXPECT_EQ(p.rootfs.devices[0].field, "linux.devices[0]");
}

TEST_F(PlanTest, SpecDeviceOverridesADefaultInPlace) {
    spec.linux->devices = {
        {.type = "b", .path = "/dev/sda", .major = 8, .minor = 0},
        {.type = "c", .path = "/dev/null", .major = 1, .minor = 3, .file_mode = 0600, .uid = 1000, .gid = 1001},
        {.type = "p", .path = "/dev/fifo", .major = 0, .minor = 0, .file_mode = 0100640},
    };
    InitPlan p = plan();
    const auto& devs = p.rootfs.devices;
    ASSERT_EQ(devs.size(), 8u);  // six defaults, /dev/null replaced, two added
    EXPECT_EQ(devs[0].path, "/dev/null");
    EXPECT_EQ(devs[0].field, "linux.devices[1]");
    EXPECT_EQ(devs[0].mode, static_cast<mode_t>(S_IFCHR | 0600));
    EXPECT_TRUE(devs[0].chown);
    EXPECT_EQ(devs[0].uid, 1000u);
    EXPECT_EQ(devs[0].gid, 1001u);
    EXPECT_EQ(devs[6].path, "/dev/sda");
    EXPECT_EQ(devs[6].mode, static_cast<mode_t>(S_IFBLK | 0666));
    EXPECT_EQ(devs[6].dev, makedev(8, 0));
    EXPECT_EQ(devs[7].path, "/dev/fifo");
    EXPECT_EQ(devs[7].mode, static_cast<mode_t>(S_IFIFO | 0640));  // the type comes from "type", not fileMode
    EXPECT_EQ(devs[7].dev, 0u);
}

TEST_F(PlanTest, DevicesAreBoundInANewUserNamespace) {
    spec.linux->namespaces.push_back({"user", ""});
    EXPECT_TRUE(plan().rootfs.bind_devices);
}

// ---- mounts ----------------------------------------------------------------------------------

TEST_F(PlanTest, MountFieldsAndFlags) {
    add_mount("/proc", "proc", "proc");
    add_mount("tmp", "tmpfs", "", {"nosuid", "nodev", "mode=1777", "size=64m", "rprivate"});
    InitPlan p = plan();
    ASSERT_EQ(p.rootfs.mounts.size(), 2u);
    const MountStep& proc = p.rootfs.mounts[0];
    EXPECT_EQ(proc.field, "mounts[0]");
    EXPECT_EQ(proc.type, "proc");
    EXPECT_EQ(proc.source, "proc");
    EXPECT_FALSE(proc.bind);
    const MountStep& tmp = p.rootfs.mounts[1];
    EXPECT_EQ(tmp.field, "mounts[1]");
    EXPECT_EQ(tmp.destination, "/tmp");  // made absolute
    EXPECT_EQ(tmp.source, "tmpfs");      // an empty source is the type
    EXPECT_EQ(tmp.flags, static_cast<unsigned long>(MS_NOSUID | MS_NODEV));
    EXPECT_EQ(tmp.data, "mode=1777,size=64m");
    EXPECT_EQ(tmp.propagation, (std::vector<unsigned long>{MS_PRIVATE | MS_REC}));
}

TEST_F(PlanTest, BindSourceIsRelativeToTheBundle) {
    make_dirs(bundle / "data");
    add_mount("/data", "none", "data", {"rbind", "ro"});
    add_mount("/etc/hosts", "bind", bundle / "hosts");
    put_file(bundle / "hosts", "127.0.0.1 localhost\n");
    InitPlan p = plan();
    const MountStep& data = p.rootfs.mounts[0];
    EXPECT_TRUE(data.bind);
    EXPECT_TRUE(data.recursive);
    EXPECT_EQ(data.source, bundle / "data");
    EXPECT_EQ(data.type, "");
    EXPECT_EQ(data.flags, static_cast<unsigned long>(MS_RDONLY));  // no MS_BIND or MS_REC left in flags
    const MountStep& hosts = p.rootfs.mounts[1];
    EXPECT_TRUE(hosts.bind);  // type "bind" alone is a bind mount
    EXPECT_FALSE(hosts.recursive);
    EXPECT_EQ(hosts.source, bundle / "hosts");
}

TEST_F(PlanTest, MissingBindSourceIsAnErrorNamingTheMount) {
    add_mount("/proc", "proc", "proc");
    add_mount("/data", "bind", "missing", {"bind"});
    EXPECT_EQ(plan_error(), "mounts[1].source: " + (bundle / "missing") + ": No such file or directory");
}

TEST_F(PlanTest, BadMountsAreErrorsNamingTheField) {
    add_mount("/a/../../etc", "tmpfs", "tmpfs");
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].destination: must not contain \"..\"")) << plan_error();
    spec.mounts.clear();
    add_mount("/x", "", "something");
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].type: ")) << plan_error();
    spec.mounts.clear();
    add_mount("/x", "bind", "", {"bind"});
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].source: ")) << plan_error();
    spec.mounts.clear();
    add_mount("/x", "proc", "proc", {"remount"});
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].options: remount")) << plan_error();
    spec.mounts.clear();
    add_mount("/x", "proc", "proc", {"tmpcopyup"});
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].options: tmpcopyup")) << plan_error();
    spec.mounts.clear();
    add_mount("/x", "tmpfs", "tmpfs", {"idmap"});
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].options: idmap needs a bind mount")) << plan_error();
    spec.mounts.clear();
    add_mount("/x", "tmpfs", "tmpfs", {"ro", ""});
    EXPECT_EQ(plan_error(), "mounts[0].options[1]: empty mount option");
}

TEST_F(PlanTest, IdmapWithoutMappingsNeedsAUserNamespace) {
    make_dirs(bundle / "data");
    add_mount("/data", "bind", "data", {"rbind", "idmap"});
    EXPECT_TRUE(starts_with(plan_error(), "mounts[0].options: idmap without mappings")) << plan_error();
    // A user namespace joined by path will do (a pod's, which its containers join).
    spec.linux->namespaces.push_back({"user", "/proc/1/ns/user"});
    EXPECT_TRUE(plan().rootfs.mounts[0].idmap);
    spec.linux->namespaces.back() = {"user", ""};
    InitPlan p = plan();
    EXPECT_TRUE(p.rootfs.mounts[0].idmap);
    spec.mounts[0].uid_mappings = {{0, 1000, 1}};
    EXPECT_EQ(plan_error(), "mounts[0]: uidMappings and gidMappings go together");
}

TEST_F(PlanTest, CgroupMountOnAV1HostIsATmpfsTree) {
    add_mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "ro"});
    inputs.cgroup_mounts = {{.name = "cpu,cpuacct", .fstype = "cgroup", .options = "cpu,cpuacct",
                             .host_dir = "/sys/fs/cgroup/cpu,cpuacct/kiln/c1", .links = {"cpu", "cpuacct"}}};
    InitPlan p = plan();
    const MountStep& m = p.rootfs.mounts[0];
    EXPECT_TRUE(m.cgroup_tree);
    EXPECT_EQ(m.type, "tmpfs");
    EXPECT_EQ(m.source, "tmpfs");
    EXPECT_EQ(m.data, "mode=755");
    EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_NOSUID | MS_RDONLY));
    ASSERT_EQ(p.rootfs.cgroup_mounts.size(), 1u);
    EXPECT_EQ(p.rootfs.cgroup_mounts[0].links, (std::vector<std::string>{"cpu", "cpuacct"}));
}

TEST_F(PlanTest, CgroupMountOnAV2HostWithCgroupNamespaceIsCgroup2) {
    spec.linux->namespaces.push_back({"cgroup", ""});
    add_mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "ro"});
    inputs.cgroup_v2_host = true;
    inputs.cgroup_v2_dir = "/sys/fs/cgroup/kiln/c1";
    InitPlan p = plan();
    const MountStep& m = p.rootfs.mounts[0];
    EXPECT_FALSE(m.cgroup_tree);
    EXPECT_FALSE(m.bind);
    EXPECT_EQ(m.type, "cgroup2");
    EXPECT_EQ(m.source, "cgroup2");
    EXPECT_TRUE(p.rootfs.own_cgroupns);
}

TEST_F(PlanTest, CgroupMountOnAV2HostWithoutCgroupNamespaceBindsTheContainersDir) {
    add_mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "ro"});
    inputs.cgroup_v2_host = true;
    inputs.cgroup_v2_dir = "/sys/fs/cgroup/kiln/c1";
    InitPlan p = plan();
    const MountStep& m = p.rootfs.mounts[0];
    EXPECT_FALSE(m.cgroup_tree);
    EXPECT_TRUE(m.bind);
    EXPECT_TRUE(m.recursive);
    EXPECT_EQ(m.type, "");
    EXPECT_EQ(m.source, "/sys/fs/cgroup/kiln/c1");
    EXPECT_EQ(m.flags, static_cast<unsigned long>(MS_NOSUID | MS_RDONLY));
    EXPECT_FALSE(p.rootfs.own_cgroupns);
}

// ---- hooks and JSON --------------------------------------------------------------------------

TEST_F(PlanTest, ContainerHooksRunByInitHaveArgvAndState) {
    spec.hooks = oci::Hooks{};
    spec.hooks->create_container = {{.path = "/bin/hook"}};
    spec.hooks->start_container = {{.path = "/bin/start", .args = {"start", "--x"}, .timeout = 5}};
    InitPlan p = plan();
    ASSERT_EQ(p.create_container_hooks.size(), 1u);
    const HookExec& h = p.create_container_hooks[0];
    EXPECT_EQ(h.field, "hooks.createContainer[0]");
    EXPECT_EQ(h.args, (std::vector<std::string>{"/bin/hook"}));  // argv[0] defaults to the path
    ASSERT_EQ(h.argv.size(), 2u);
    EXPECT_EQ(h.argv[0], h.args[0].data());
    EXPECT_EQ(h.argv[1], nullptr);
    EXPECT_EQ(p.start_container_hooks[0].timeout_s, 5);
    EXPECT_FALSE(p.runtime_hooks);
    EXPECT_TRUE(p.hook_state.empty());  // sized by the runtime once the pid is known

    spec.hooks->prestart = {{.path = "/bin/pre"}};
    EXPECT_TRUE(plan().runtime_hooks);
}

TEST_F(PlanTest, PlanFromConfigJson) {
    auto j = nlohmann::json::parse(R"({
        "ociVersion": "1.2.0",
        "process": {
            "user": {"uid": 0, "gid": 0}, "args": ["/bin/sh"], "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "permitted": ["CAP_KILL"], "effective": ["CAP_KILL"]},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 2}
        },
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "user"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "sysctl": {"net.core.somaxconn": "1024"}
        }
    })");
    spec = oci::spec_from_json(j);
    InitPlan p = plan();
    EXPECT_EQ(p.ns.uid_map, "0 1000 1\n");
    EXPECT_EQ(p.ns.new_flags, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUSER);
    EXPECT_TRUE(p.rootfs.readonly);
    EXPECT_TRUE(p.rootfs.bind_devices);
    EXPECT_EQ(p.process.caps->bounding, 1ULL << 5);
    EXPECT_EQ(p.process.ioprio, (2 << 13) | 2);
    EXPECT_EQ(p.rootfs.sysctl[0].first, "/proc/sys/net/core/somaxconn");
    EXPECT_EQ(p.rootfs.mounts[0].destination, "/proc");
}

}  // namespace
}  // namespace kiln::container
