// A container's cgroup and every controller file, against a fake cgroupfs tree in a temp dir.
// The controller files a test expects are pre-created; Target::write never creates a file, so a
// write to a file of the wrong cgroup version fails the test. Files written several times are
// FIFOs, so the test sees every write in order, not just the last.
#include "core/cgroups/cgroup.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/cgroups/controller.hpp"
#include "core/sys/error.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::cgroups {
namespace {

using kiln::testing::exists;
using kiln::testing::make_dirs;
using kiln::testing::put_file;
using kiln::testing::slurp;
using kiln::testing::TempDir;

// The file with trailing newlines and spaces cut. Tests pre-create files empty (or with a value no
// longer than what is written over it), because Target::write does not truncate.
std::string value_of(const std::string& path) {
    std::string s = slurp(path);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// A FIFO standing in for a cgroup file that takes one write per line (io.max, devices.allow):
// everything written, concatenated in order.
class WriteRecorder {
public:
    explicit WriteRecorder(const std::string& path) {
        if (::mkfifo(path.c_str(), 0644) < 0) ADD_FAILURE() << "mkfifo " << path << ": " << std::strerror(errno);
        // A reader must be open for the writer's open(O_WRONLY) not to block.
        fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0) ADD_FAILURE() << "open " << path << ": " << std::strerror(errno);
    }
    WriteRecorder(const WriteRecorder&) = delete;
    WriteRecorder& operator=(const WriteRecorder&) = delete;
    ~WriteRecorder() {
        if (fd_ >= 0) ::close(fd_);
    }
    std::string written() {
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd_, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
        return out;
    }

private:
    int fd_ = -1;
};

struct Failure {
    bool thrown = false;
    Errc code = Errc::internal;
    std::string message;
};

template <typename F>
Failure failure_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return {true, e.code(), e.what()};
    }
    return {};
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    for (;;) {
        size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma - start));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

const char* const kPath = "/kiln/c1";

class FakeCgroupfs : public ::testing::Test {
protected:
    // A v1 hierarchy mounted at <tmp>/<key>: "memory", "cpu,cpuacct", "name=systemd".
    Hierarchy v1(const std::string& key, const std::string& root = "/") {
        Hierarchy h;
        h.version = Version::v1;
        h.mount_point = tmp / key;
        h.root = root;
        if (key.rfind("name=", 0) == 0) h.name = key.substr(5);
        else h.controllers = split_commas(key);
        h.proc_key = key;
        make_dirs(h.mount_point);
        return h;
    }
    // The unified hierarchy at <tmp>/<dir>, delegating nothing yet.
    Hierarchy v2(std::vector<std::string> controllers, const std::string& dir = "unified") {
        Hierarchy h;
        h.version = Version::v2;
        h.mount_point = tmp / dir;
        h.root = "/";
        h.controllers = std::move(controllers);
        put_file(h.mount_point + "/cgroup.subtree_control");
        return h;
    }
    static Layout layout_of(std::vector<Hierarchy> hierarchies) {
        Layout l;
        bool v1 = false, v2 = false;
        for (const auto& h : hierarchies) (h.version == Version::v1 ? v1 : v2) = true;
        l.mode = v1 ? (v2 ? Mode::hybrid : Mode::legacy) : Mode::unified;
        l.hierarchies = std::move(hierarchies);
        return l;
    }
    // The container's directory in `h` (made), with cgroup.subtree_control in every v2 level.
    std::string leaf(const Hierarchy& h) {
        std::string dir = h.mount_point + kPath;
        make_dirs(dir);
        if (h.version == Version::v2) {
            put_file(h.mount_point + "/kiln/cgroup.subtree_control");
            put_file(dir + "/cgroup.subtree_control");
        }
        return dir;
    }
    // A cgroup at kPath in the given hierarchies, each with its leaf made.
    Cgroup cgroup(std::vector<Hierarchy> hierarchies) {
        for (const auto& h : hierarchies) leaf(h);
        return Cgroup(layout_of(std::move(hierarchies)), kPath, "");
    }

    TempDir tmp;
};

// ---- Path resolution -------------------------------------------------------------------------

TEST_F(FakeCgroupfs, AbsolutePathIsUnderEveryMountPoint) {
    Cgroup cg(layout_of({v1("memory"), v1("cpu,cpuacct"), v1("name=systemd"), v2({"hugetlb"})}), "/kiln/c1", "");
    EXPECT_EQ(cg.paths(), (std::vector<std::string>{tmp / "memory/kiln/c1", tmp / "cpu,cpuacct/kiln/c1",
                                                    tmp / "name=systemd/kiln/c1", tmp / "unified/kiln/c1"}));
}

TEST_F(FakeCgroupfs, PathIsCleanedOfRepeatedSlashesAndDots) {
    Cgroup cg(layout_of({v1("memory")}), "//kiln/./c1/", "");
    EXPECT_EQ(cg.paths(), (std::vector<std::string>{tmp / "memory/kiln/c1"}));
}

// v1: below the caller's own cgroup. v2: below its parent, since a v2 cgroup with processes in
// it cannot delegate controllers to children.
TEST_F(FakeCgroupfs, RelativePathIsBelowTheCallersCgroupInEachHierarchy) {
    std::string self =
        "7:memory:/user.slice/user-1000.slice\n"
        "4:cpu,cpuacct:/system.slice/kiln.service\n"
        "1:name=systemd:/system.slice/kiln.service\n"
        "0::/system.slice/kiln.service\n";
    Cgroup cg(layout_of({v1("memory"), v1("cpu,cpuacct"), v1("name=systemd"), v2({})}), "kiln/c1", self);
    EXPECT_EQ(cg.paths(), (std::vector<std::string>{tmp / "memory/user.slice/user-1000.slice/kiln/c1",
                                                    tmp / "cpu,cpuacct/system.slice/kiln.service/kiln/c1",
                                                    tmp / "name=systemd/system.slice/kiln.service/kiln/c1",
                                                    tmp / "unified/system.slice/kiln/c1"}));
}

TEST_F(FakeCgroupfs, RelativePathStripsTheRootTheHierarchyIsMountedFrom) {
    // Inside a container the memory hierarchy is mounted from /docker/abc, and /proc/self/cgroup
    // still reads the host's path.
    std::string self = "9:memory:/docker/abc/inner\n";
    Cgroup cg(layout_of({v1("memory", "/docker/abc")}), "kiln/c1", self);
    EXPECT_EQ(cg.paths(), (std::vector<std::string>{tmp / "memory/inner/kiln/c1"}));
}

TEST_F(FakeCgroupfs, RelativePathAtTheMountRootIsDirectlyUnderTheMountPoint) {
    Cgroup cg(layout_of({v1("memory", "/docker/abc")}), "kiln/c1", "9:memory:/docker/abc\n");
    EXPECT_EQ(cg.paths(), (std::vector<std::string>{tmp / "memory/kiln/c1"}));
}

TEST_F(FakeCgroupfs, DotDotIsRefused) {
    for (const char* path : {"/kiln/../../etc", "kiln/../x", "..", "/a/.."}) {
        Failure f = failure_of([&] { Cgroup(layout_of({v1("memory")}), path, "0::/\n"); });
        EXPECT_TRUE(f.thrown) << path;
        EXPECT_EQ(f.code, Errc::invalid_argument) << path;
        EXPECT_NE(f.message.find("linux.cgroupsPath"), std::string::npos) << f.message;
    }
}

TEST_F(FakeCgroupfs, RootOrEmptyPathIsRefused) {
    for (const char* path : {"", "/", "//", "."}) {
        Failure f = failure_of([&] { Cgroup(layout_of({v1("memory")}), path, ""); });
        EXPECT_TRUE(f.thrown) << '"' << path << '"';
        EXPECT_NE(f.message.find("linux.cgroupsPath"), std::string::npos) << f.message;
    }
}

TEST_F(FakeCgroupfs, FromPathsRoundTripsPaths) {
    Layout l = layout_of({v1("cpu"), v1("cpu,cpuacct"), v2({"pids"})});
    Cgroup cg(l, "/kiln/c1", "");
    Cgroup again = Cgroup::from_paths(l, cg.paths());
    EXPECT_EQ(again.paths(), cg.paths());
    // "<tmp>/cpu,cpuacct/..." is not below "<tmp>/cpu".
    EXPECT_EQ(again.paths()[1], tmp / "cpu,cpuacct/kiln/c1");
}

TEST_F(FakeCgroupfs, FromPathsDropsPathsOutsideEveryHierarchy) {
    Layout l = layout_of({v1("memory")});
    Cgroup cg = Cgroup::from_paths(l, {tmp / "memory/kiln/c1", "/elsewhere/kiln/c1", tmp / "memory"});
    EXPECT_EQ(cg.paths(), (std::vector<std::string>{tmp / "memory/kiln/c1"}));
}

TEST_F(FakeCgroupfs, FromPathsCgroupAppliesToTheSavedDirectory) {
    Hierarchy pids = v1("pids");
    std::string dir = leaf(pids);
    put_file(dir + "/pids.max");
    Cgroup cg = Cgroup::from_paths(layout_of({pids}), {dir});
    oci::Resources r;
    r.pids = oci::Pids{.limit = 42};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/pids.max"), "42");
}

// ---- create() --------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, CreateMakesEveryLevelInEveryHierarchy) {
    Cgroup cg(layout_of({v1("memory"), v1("pids"), v2({"memory"})}), "/kiln/c1", "");
    cg.create();
    for (const auto& p : cg.paths()) {
        struct stat st;
        ASSERT_EQ(::stat(p.c_str(), &st), 0) << p;
        EXPECT_TRUE(S_ISDIR(st.st_mode)) << p;
    }
    // A second create finds everything there and is no error.
    EXPECT_NO_THROW(cg.create());
}

TEST_F(FakeCgroupfs, FailedCreateRemovesOnlyWhatItMade) {
    Hierarchy memory = v1("memory");
    Hierarchy unified = v2({"memory"});
    Hierarchy pids = v1("pids");
    make_dirs(memory.mount_point + "/kiln");  // there before: must stay
    // The pids mount point is a file: mkdir below it fails with ENOTDIR.
    ::rmdir(pids.mount_point.c_str());
    put_file(pids.mount_point, "not a directory");
    Cgroup cg(layout_of({memory, unified, pids}), "/kiln/c1", "");
    try {
        cg.create();
        FAIL() << "create should fail";
    } catch (const SysError& e) {
        EXPECT_EQ(e.err(), ENOTDIR);
        EXPECT_NE(std::string(e.what()).find(pids.mount_point + "/kiln"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(exists(memory.mount_point + "/kiln/c1"));
    EXPECT_TRUE(exists(memory.mount_point + "/kiln"));
    EXPECT_FALSE(exists(unified.mount_point + "/kiln"));
    EXPECT_TRUE(exists(unified.mount_point));
}

// ---- Target::write errors and absent controllers ---------------------------------------------

TEST_F(FakeCgroupfs, WriteErrorNamesFieldValueFileAndErrno) {
    Hierarchy memory = v1("memory");
    Cgroup cg = cgroup({memory});
    oci::Resources r;
    r.memory = oci::Memory{.limit = 268435456};
    Failure f = failure_of([&] { cg.apply(r); });
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, Errc::failed_precondition);  // ENOENT: the file the kernel should have is not there
    EXPECT_EQ(f.message, "linux.resources.memory.limit: write \"268435456\" to " + memory.mount_point +
                             "/kiln/c1/memory.limit_in_bytes: No such file or directory");
}

TEST_F(FakeCgroupfs, WriteRefusedByTheFileIsInvalidArgument) {
    Target t{Version::v1, tmp.path()};
    make_dirs(tmp / "pids.max");  // a directory cannot be opened for writing
    Failure f = failure_of([&] { t.write("pids.max", "5", "linux.resources.pids.limit"); });
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, Errc::invalid_argument);
    EXPECT_EQ(f.message, "linux.resources.pids.limit: write \"5\" to " + tmp / "pids.max" + ": Is a directory");
}

TEST_F(FakeCgroupfs, AbsentControllerIsAnErrorOnlyWhenAskedFor) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes");
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 1048576};
    r.pids = oci::Pids{.limit = 0};                    // 0: not set
    r.network = oci::Network{.class_id = 0};           // 0: not set
    r.cpu = oci::Cpu{.shares = 0, .quota = 0, .period = 0};
    EXPECT_NO_THROW(cg.apply(r));
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "1048576");

    r.network->class_id = 0x100001;
    Failure f = failure_of([&] { cg.apply(r); });
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.network.classID: the net_cls controller is not available on this host");

    r.network.reset();
    r.pids->limit = 10;
    f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.pids: the pids controller is not available on this host");
}

TEST_F(FakeCgroupfs, V1OnlyControllerIsAbsentOnAV2Host) {
    Cgroup cg = cgroup({v2({"cpu", "memory", "pids"})});
    oci::Resources r;
    r.network = oci::Network{.priorities = {{"eth0", 5}}};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.network.priorities: the net_prio controller is not available on this host");
}

TEST_F(FakeCgroupfs, EmptyResourcesWriteNothing) {
    // No controller files exist: any write would fail.
    Cgroup cg = cgroup({v1("memory"), v2({"memory", "pids"})});
    EXPECT_NO_THROW(cg.apply(oci::Resources{}));
}

// ---- memory ----------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, V1MemoryWritesLimitReservationSwapAndSwappiness) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes", "1");
    for (const char* f : {"memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.swappiness",
                          "memory.oom_control"})
        put_file(dir + "/" + f);
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 268435456, .reservation = 134217728, .swap = 536870912, .swappiness = 30,
                           .disable_oom_killer = true};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "268435456");
    EXPECT_EQ(value_of(dir + "/memory.memsw.limit_in_bytes"), "536870912");
    EXPECT_EQ(value_of(dir + "/memory.soft_limit_in_bytes"), "134217728");
    EXPECT_EQ(value_of(dir + "/memory.swappiness"), "30");
    EXPECT_EQ(value_of(dir + "/memory.oom_control"), "1");
}

// memsw must stay >= the limit at every step. The memsw file is made a directory so that its
// write fails: whether the limit was already written shows the order.
TEST_F(FakeCgroupfs, V1GrowingSwapIsWrittenBeforeTheLimit) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes", "1048576");
    make_dirs(dir + "/memory.memsw.limit_in_bytes");
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 2097152, .swap = 4194304};
    Failure f = failure_of([&] { cg.apply(r); });
    ASSERT_TRUE(f.thrown);
    EXPECT_EQ(f.message, "linux.resources.memory.swap: write \"4194304\" to " + dir +
                             "/memory.memsw.limit_in_bytes: Is a directory");
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "1048576");  // not reached
}

TEST_F(FakeCgroupfs, V1ShrinkingLimitIsWrittenBeforeTheSwap) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes", "999999999");  // above the new swap
    make_dirs(dir + "/memory.memsw.limit_in_bytes");
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 536870912, .swap = 805306368};
    Failure f = failure_of([&] { cg.apply(r); });
    ASSERT_TRUE(f.thrown);
    EXPECT_NE(f.message.find("linux.resources.memory.swap: write \"805306368\""), std::string::npos) << f.message;
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "536870912");  // written first
}

TEST_F(FakeCgroupfs, V1UnlimitedSwapIsWrittenBeforeTheLimit) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes", "1073741824");
    make_dirs(dir + "/memory.memsw.limit_in_bytes");
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 536870912, .swap = -1};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_NE(f.message.find("linux.resources.memory.swap: write \"-1\""), std::string::npos) << f.message;
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "1073741824");
}

TEST_F(FakeCgroupfs, V1SwapWithoutSwapAccountingIsAnErrorBeforeAnyWrite) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes");
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 1048576, .swap = 2097152};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.memory.swap: swap accounting is not enabled on this host");
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "");
}

TEST_F(FakeCgroupfs, V1UnlimitedSwapWithoutSwapAccountingIsIgnored) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    put_file(dir + "/memory.limit_in_bytes", "1");
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 1048576, .swap = -1};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/memory.limit_in_bytes"), "1048576");
}

TEST_F(FakeCgroupfs, V1SwappinessAbove100IsAnErrorAndMinusOneIsUnset) {
    Hierarchy memory = v1("memory");
    std::string dir = leaf(memory);
    Cgroup cg(layout_of({memory}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.swappiness = static_cast<uint64_t>(-1)};
    EXPECT_NO_THROW(cg.apply(r));  // no memory.swappiness file: nothing was written
    r.memory->swappiness = 101;
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::invalid_argument);
    EXPECT_EQ(f.message, "linux.resources.memory.swappiness: must be between 0 and 100");
}

TEST_F(FakeCgroupfs, MemoryZeroMeansUnset) {
    // Go callers send 0 for every field they do not set. No memory files exist.
    Cgroup cg = cgroup({v1("memory"), v2({"memory"})});
    oci::Resources r;
    r.memory = oci::Memory{.limit = 0, .reservation = 0, .swap = 0, .kernel = 0, .kernel_tcp = 0};
    EXPECT_NO_THROW(cg.apply(r));
    Cgroup no_memory = cgroup({v1("pids")});
    EXPECT_NO_THROW(no_memory.apply(r));
}

TEST_F(FakeCgroupfs, V2MemoryWritesMaxLowAndSwapWithoutTheLimit) {
    Hierarchy unified = v2({"cpu", "memory", "pids"});
    std::string dir = leaf(unified);
    for (const char* f : {"memory.max", "memory.low", "memory.swap.max"}) put_file(dir + "/" + f);
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 268435456, .reservation = 134217728, .swap = 805306368};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/memory.max"), "268435456");
    EXPECT_EQ(value_of(dir + "/memory.low"), "134217728");
    // v1's swap is memory+swap; memory.swap.max is swap alone.
    EXPECT_EQ(value_of(dir + "/memory.swap.max"), "536870912");
    // Delegated by every ancestor, not by the container's own directory.
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "+memory");
    EXPECT_EQ(slurp(unified.mount_point + "/kiln/cgroup.subtree_control"), "+memory");
    EXPECT_EQ(slurp(dir + "/cgroup.subtree_control"), "");
}

TEST_F(FakeCgroupfs, V2AlreadyDelegatedControllerIsNotWrittenAgain) {
    Hierarchy unified = v2({"cpu", "memory"});
    std::string dir = leaf(unified);
    put_file(unified.mount_point + "/cgroup.subtree_control", "cpu memory\n");
    put_file(dir + "/memory.max");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 1048576};
    cg.apply(r);
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "cpu memory\n");
    EXPECT_EQ(slurp(unified.mount_point + "/kiln/cgroup.subtree_control"), "+memory");
}

TEST_F(FakeCgroupfs, V2UnlimitedSwapOrLimitIsMax) {
    Hierarchy unified = v2({"memory"});
    std::string dir = leaf(unified);
    put_file(dir + "/memory.max");
    put_file(dir + "/memory.swap.max");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 268435456, .swap = -1};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/memory.swap.max"), "max");
    EXPECT_EQ(value_of(dir + "/memory.max"), "268435456");

    put_file(dir + "/memory.max");
    put_file(dir + "/memory.swap.max");
    r.memory = oci::Memory{.limit = -1, .swap = 1073741824};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/memory.swap.max"), "max");
    EXPECT_EQ(value_of(dir + "/memory.max"), "max");
}

TEST_F(FakeCgroupfs, V2SwapErrorsNameTheField) {
    Hierarchy unified = v2({"memory"});
    std::string dir = leaf(unified);
    put_file(dir + "/memory.max");
    put_file(dir + "/memory.swap.max");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.swap = 1073741824};  // no limit
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::invalid_argument);
    EXPECT_EQ(f.message, "linux.resources.memory.swap: a swap limit needs a memory limit");

    r.memory = oci::Memory{.limit = 2097152, .swap = 1048576};
    f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::invalid_argument);
    EXPECT_EQ(f.message, "linux.resources.memory.swap: memory+swap must not be below the memory limit");
    EXPECT_EQ(value_of(dir + "/memory.max"), "");  // nothing written on a bad swap
}

TEST_F(FakeCgroupfs, V2SwapWithoutSwapAccountingIsAnError) {
    Hierarchy unified = v2({"memory"});
    std::string dir = leaf(unified);
    put_file(dir + "/memory.max");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 1048576, .swap = 2097152};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.memory.swap: swap accounting is not enabled on this host");
}

TEST_F(FakeCgroupfs, V2HasNoSwappinessOrOomKillerSwitch) {
    Hierarchy unified = v2({"memory"});
    leaf(unified);
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.swappiness = 10};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness");
    r.memory = oci::Memory{.disable_oom_killer = true};
    f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer");
}

// ---- cpu -------------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, V1CpuWritesSharesPeriodAndQuota) {
    Hierarchy cpu = v1("cpu,cpuacct");
    std::string dir = leaf(cpu);
    for (const char* f : {"cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.rt_period_us", "cpu.rt_runtime_us"})
        put_file(dir + "/" + f);
    Cgroup cg(layout_of({cpu}), kPath, "");
    oci::Resources r;
    r.cpu = oci::Cpu{.shares = 512, .quota = 50000, .period = 100000, .realtime_runtime = 9500,
                     .realtime_period = 10000};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/cpu.shares"), "512");
    EXPECT_EQ(value_of(dir + "/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(value_of(dir + "/cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(value_of(dir + "/cpu.rt_period_us"), "10000");
    EXPECT_EQ(value_of(dir + "/cpu.rt_runtime_us"), "9500");
}

TEST_F(FakeCgroupfs, V1CpuPeriodIsWrittenBeforeTheQuota) {
    Hierarchy cpu = v1("cpu,cpuacct");
    std::string dir = leaf(cpu);
    put_file(dir + "/cpu.cfs_period_us");  // no cfs_quota_us: its write fails
    Cgroup cg(layout_of({cpu}), kPath, "");
    oci::Resources r;
    r.cpu = oci::Cpu{.quota = 50000, .period = 100000};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_NE(f.message.find("linux.resources.cpu.quota: write \"50000\""), std::string::npos) << f.message;
    EXPECT_EQ(value_of(dir + "/cpu.cfs_period_us"), "100000");
}

TEST_F(FakeCgroupfs, V2CpuSharesBecomeWeight) {
    Hierarchy unified = v2({"cpu"});
    std::string dir = leaf(unified);
    put_file(dir + "/cpu.weight");
    Cgroup cg(layout_of({unified}), kPath, "");
    // runc's and crun's conversion: 2..262144 onto 1..10000.
    for (auto [shares, weight] : std::vector<std::pair<uint64_t, std::string>>{
             {1024, "39"}, {2, "1"}, {262144, "10000"}, {1, "1"}, {1000000, "10000"}}) {
        put_file(dir + "/cpu.weight");
        oci::Resources r;
        r.cpu = oci::Cpu{.shares = shares};
        cg.apply(r);
        EXPECT_EQ(value_of(dir + "/cpu.weight"), weight) << "shares " << shares;
    }
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "+cpu");
}

TEST_F(FakeCgroupfs, V2CpuQuotaAndPeriodGoToCpuMax) {
    Hierarchy unified = v2({"cpu"});
    std::string dir = leaf(unified);
    Cgroup cg(layout_of({unified}), kPath, "");
    auto cpu_max = [&](std::optional<int64_t> quota, std::optional<uint64_t> period, const std::string& before) {
        put_file(dir + "/cpu.max", before);
        oci::Resources r;
        r.cpu = oci::Cpu{.quota = quota, .period = period};
        cg.apply(r);
        return value_of(dir + "/cpu.max");
    };
    EXPECT_EQ(cpu_max(50000, 100000, ""), "50000 100000");
    EXPECT_EQ(cpu_max(-1, 100000, ""), "max 100000");
    // Without a period the current one is kept.
    EXPECT_EQ(cpu_max(50000, std::nullopt, "max 250000"), "50000 250000");
    EXPECT_EQ(cpu_max(-1, std::nullopt, ""), "max");
}

TEST_F(FakeCgroupfs, V2CpuHasNoRealtimeBudget) {
    Hierarchy unified = v2({"cpu"});
    leaf(unified);
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.cpu = oci::Cpu{.realtime_runtime = 1000};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.cpu.realtimeRuntime: cgroup v2 has no realtime CPU budget");
}

TEST_F(FakeCgroupfs, CpuIdleAndBurstOnV2) {
    Hierarchy unified = v2({"cpu"});
    std::string dir = leaf(unified);
    put_file(dir + "/cpu.idle");
    put_file(dir + "/cpu.max.burst");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.cpu = oci::Cpu{.burst = 20000, .idle = 1};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/cpu.idle"), "1");
    EXPECT_EQ(value_of(dir + "/cpu.max.burst"), "20000");
}

// ---- cpuset ----------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, CpusetWritesCpusAndMemsOnV1AndV2) {
    Hierarchy cpuset1 = v1("cpuset");
    Hierarchy unified = v2({"cpuset"});
    std::string d1 = leaf(cpuset1);
    std::string d2 = leaf(unified);
    for (const auto& d : {d1, d2}) {
        put_file(d + "/cpuset.cpus");
        put_file(d + "/cpuset.mems");
    }
    oci::Resources r;
    r.cpu = oci::Cpu{.cpus = "0-3,5", .mems = "0"};
    Cgroup(layout_of({cpuset1}), kPath, "").apply(r);
    Cgroup(layout_of({unified}), kPath, "").apply(r);
    for (const auto& d : {d1, d2}) {
        EXPECT_EQ(value_of(d + "/cpuset.cpus"), "0-3,5") << d;
        EXPECT_EQ(value_of(d + "/cpuset.mems"), "0") << d;
    }
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "+cpuset");
}

TEST_F(FakeCgroupfs, CpusetInitV1CopiesFromTheParentOnlyWhenEmpty) {
    std::string parent = tmp / "cpuset";
    std::string child = parent + "/c1";
    put_file(parent + "/cpuset.cpus", "0-7\n");
    put_file(parent + "/cpuset.mems", "0-1\n");
    put_file(child + "/cpuset.cpus", "\n");  // what the kernel shows for a fresh cgroup
    put_file(child + "/cpuset.mems", "");
    cpuset::init_v1(parent, child);
    EXPECT_EQ(slurp(child + "/cpuset.cpus"), "0-7\n");
    EXPECT_EQ(slurp(child + "/cpuset.mems"), "0-1\n");

    put_file(child + "/cpuset.cpus", "2\n");
    put_file(child + "/cpuset.mems", "1\n");
    cpuset::init_v1(parent, child);
    EXPECT_EQ(slurp(child + "/cpuset.cpus"), "2\n");
    EXPECT_EQ(slurp(child + "/cpuset.mems"), "1\n");
}

// ---- pids ------------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, PidsLimitOnV1AndV2) {
    Hierarchy pids1 = v1("pids");
    Hierarchy unified = v2({"pids"});
    std::string d1 = leaf(pids1);
    std::string d2 = leaf(unified);
    auto limit = [&](const Hierarchy& h, const std::string& dir, int64_t value) {
        put_file(dir + "/pids.max");
        oci::Resources r;
        r.pids = oci::Pids{.limit = value};
        Cgroup(layout_of({h}), kPath, "").apply(r);
        return value_of(dir + "/pids.max");
    };
    EXPECT_EQ(limit(pids1, d1, 100), "100");
    EXPECT_EQ(limit(pids1, d1, -1), "max");
    EXPECT_EQ(limit(unified, d2, 100), "100");
    EXPECT_EQ(limit(unified, d2, -1), "max");
    EXPECT_EQ(limit(unified, d2, 0), "");  // 0: not set, nothing written
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "+pids");
}

// ---- blkio / io ------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, V1BlkioWeightFallsBackToTheBfqFile) {
    Hierarchy blkio = v1("blkio");
    std::string dir = leaf(blkio);
    put_file(dir + "/blkio.bfq.weight");
    put_file(dir + "/blkio.bfq.weight_device");
    Cgroup cg(layout_of({blkio}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.weight = 500, .weight_device = {{8, 0, 300, std::nullopt}}};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/blkio.bfq.weight"), "500");
    EXPECT_EQ(value_of(dir + "/blkio.bfq.weight_device"), "8:0 300");
}

TEST_F(FakeCgroupfs, V1BlkioWeightPrefersTheCfqFile) {
    Hierarchy blkio = v1("blkio");
    std::string dir = leaf(blkio);
    put_file(dir + "/blkio.weight");
    put_file(dir + "/blkio.bfq.weight");
    Cgroup cg(layout_of({blkio}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.weight = 500};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/blkio.weight"), "500");
    EXPECT_EQ(value_of(dir + "/blkio.bfq.weight"), "");
}

TEST_F(FakeCgroupfs, V1BlkioThrottleWritesOneLinePerDevice) {
    Hierarchy blkio = v1("blkio");
    std::string dir = leaf(blkio);
    WriteRecorder read_bps(dir + "/blkio.throttle.read_bps_device");
    put_file(dir + "/blkio.throttle.write_iops_device");
    Cgroup cg(layout_of({blkio}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.throttle_read_bps_device = {{8, 0, 1048576}, {8, 16, 2048}},
                              .throttle_write_iops_device = {{8, 0, 100}}};
    cg.apply(r);
    EXPECT_EQ(read_bps.written(), std::string("8:0 1048576") + "8:16 2048");
    EXPECT_EQ(value_of(dir + "/blkio.throttle.write_iops_device"), "8:0 100");
}

TEST_F(FakeCgroupfs, V1BlkioThrottleErrorNamesTheListEntry) {
    Hierarchy blkio = v1("blkio");
    std::string dir = leaf(blkio);
    Cgroup cg(layout_of({blkio}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.throttle_write_bps_device = {{8, 0, 1048576}}};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.blockIO.throttleWriteBpsDevice[0]: write \"8:0 1048576\" to " + dir +
                             "/blkio.throttle.write_bps_device: No such file or directory");
}

TEST_F(FakeCgroupfs, V2IoMaxTakesOneLinePerDeviceWithEveryLimit) {
    Hierarchy unified = v2({"io"});
    std::string dir = leaf(unified);
    WriteRecorder io_max(dir + "/io.max");
    put_file(dir + "/io.weight");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.weight = 500,
                              .throttle_read_bps_device = {{8, 0, 1048576}},
                              .throttle_write_bps_device = {{8, 0, 2097152}},
                              .throttle_read_iops_device = {{8, 16, 100}},
                              .throttle_write_iops_device = {{8, 16, 50}}};
    cg.apply(r);
    EXPECT_EQ(io_max.written(), std::string("8:0 rbps=1048576 wbps=2097152") + "8:16 riops=100 wiops=50");
    // blkio's 10..1000 onto io.weight's 1..10000.
    EXPECT_EQ(value_of(dir + "/io.weight"), "default 4950");
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "+io");
}

TEST_F(FakeCgroupfs, V2IoWeightWithBfqKeepsTheBlkioRange) {
    Hierarchy unified = v2({"io"});
    std::string dir = leaf(unified);
    put_file(dir + "/io.bfq.weight");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.weight = 500};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/io.bfq.weight"), "500");
}

TEST_F(FakeCgroupfs, V2IoHasNoLeafWeight) {
    Hierarchy unified = v2({"io"});
    leaf(unified);
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.block_io = oci::BlockIo{.leaf_weight = 300};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weight");
}

TEST_F(FakeCgroupfs, BlkioZeroWeightIsUnset) {
    Cgroup cg = cgroup({v2({"memory"})});  // no io controller at all
    oci::Resources r;
    r.block_io = oci::BlockIo{.weight = 0, .leaf_weight = 0};
    EXPECT_NO_THROW(cg.apply(r));
}

// ---- hugetlb ---------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, HugetlbFileNameDependsOnTheVersion) {
    Hierarchy hugetlb1 = v1("hugetlb");
    Hierarchy unified = v2({"hugetlb"});
    std::string d1 = leaf(hugetlb1);
    std::string d2 = leaf(unified);
    put_file(d1 + "/hugetlb.2MB.limit_in_bytes");
    put_file(d2 + "/hugetlb.2MB.max");
    oci::Resources r;
    r.hugepage_limits = {{"2MB", 209715200}};
    Cgroup(layout_of({hugetlb1}), kPath, "").apply(r);
    Cgroup(layout_of({unified}), kPath, "").apply(r);
    EXPECT_EQ(value_of(d1 + "/hugetlb.2MB.limit_in_bytes"), "209715200");
    EXPECT_EQ(value_of(d2 + "/hugetlb.2MB.max"), "209715200");
}

TEST_F(FakeCgroupfs, HugetlbPageSizeWithASlashIsRefused) {
    Hierarchy unified = v2({"hugetlb"});
    std::string dir = leaf(unified);
    // What "2MB/../../../victim" would reach if it were used as a file name.
    put_file(unified.mount_point + "/victim.max");
    make_dirs(dir + "/hugetlb.2MB");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.hugepage_limits = {{"1GB", 1}, {"2MB/../../../victim", 1}};
    put_file(dir + "/hugetlb.1GB.max");
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message,
              "linux.resources.hugepageLimits[1].pageSize: the host has no huge pages of size \"2MB/../../../victim\"");
    EXPECT_EQ(slurp(unified.mount_point + "/victim.max"), "");
}

TEST_F(FakeCgroupfs, HugetlbUnknownPageSizeIsAnError) {
    Hierarchy hugetlb1 = v1("hugetlb");
    leaf(hugetlb1);
    Cgroup cg(layout_of({hugetlb1}), kPath, "");
    oci::Resources r;
    r.hugepage_limits = {{"64KB", 1}};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.hugepageLimits[0].pageSize: the host has no huge pages of size \"64KB\"");
}

// ---- net_cls, net_prio, rdma -----------------------------------------------------------------

TEST_F(FakeCgroupfs, NetClsAndNetPrioOnV1) {
    Hierarchy net = v1("net_cls,net_prio");
    std::string dir = leaf(net);
    put_file(dir + "/net_cls.classid");
    WriteRecorder prio(dir + "/net_prio.ifpriomap");
    Cgroup cg(layout_of({net}), kPath, "");
    oci::Resources r;
    r.network = oci::Network{.class_id = 0x100001, .priorities = {{"eth0", 5}, {"lo", 1}}};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/net_cls.classid"), "1048577");
    EXPECT_EQ(prio.written(), std::string("eth0 5") + "lo 1");
}

TEST_F(FakeCgroupfs, RdmaLimitsPerDeviceWithMaxForUnset) {
    Hierarchy unified = v2({"rdma"});
    std::string dir = leaf(unified);
    WriteRecorder rdma(dir + "/rdma.max");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.rdma["mlx4_0"] = oci::Rdma{.hca_handles = 2};
    r.rdma["mlx5_1"] = oci::Rdma{.hca_handles = 3, .hca_objects = 100};
    cg.apply(r);
    EXPECT_EQ(rdma.written(),
              std::string("mlx4_0 hca_handle=2 hca_object=max") + "mlx5_1 hca_handle=3 hca_object=100");
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "+rdma");
}

TEST_F(FakeCgroupfs, RdmaErrorNamesTheDevice) {
    Hierarchy rdma1 = v1("rdma");
    leaf(rdma1);
    Cgroup cg(layout_of({rdma1}), kPath, "");
    oci::Resources r;
    r.rdma["mlx4_0"] = oci::Rdma{.hca_objects = 7};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_NE(f.message.find("linux.resources.rdma.mlx4_0: write \"mlx4_0 hca_handle=max hca_object=7\""),
              std::string::npos)
        << f.message;
}

// ---- unified ---------------------------------------------------------------------------------

TEST_F(FakeCgroupfs, UnifiedKeysAreWrittenAndTheirControllerDelegated) {
    Hierarchy unified = v2({"memory", "pids"});
    std::string dir = leaf(unified);
    put_file(dir + "/memory.high");
    put_file(dir + "/memory.min");
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.unified = {{"memory.high", "1000000"}, {"memory.min", "4096"}};
    cg.apply(r);
    EXPECT_EQ(value_of(dir + "/memory.high"), "1000000");
    EXPECT_EQ(value_of(dir + "/memory.min"), "4096");
    EXPECT_EQ(slurp(unified.mount_point + "/kiln/cgroup.subtree_control"), "+memory");
}

TEST_F(FakeCgroupfs, UnifiedKeysGoToTheUnifiedHierarchyOnAHybridHost) {
    Hierarchy memory = v1("memory");
    Hierarchy unified = v2({"hugetlb"});
    std::string d1 = leaf(memory);
    std::string d2 = leaf(unified);
    put_file(d1 + "/memory.limit_in_bytes", "1");
    put_file(d2 + "/cgroup.max.depth");
    Cgroup cg(layout_of({memory, unified}), kPath, "");
    oci::Resources r;
    r.memory = oci::Memory{.limit = 1048576};
    r.unified = {{"cgroup.max.depth", "3"}};
    cg.apply(r);
    EXPECT_EQ(value_of(d1 + "/memory.limit_in_bytes"), "1048576");
    EXPECT_EQ(value_of(d2 + "/cgroup.max.depth"), "3");
    // "cgroup" is no controller: nothing delegated.
    EXPECT_EQ(slurp(unified.mount_point + "/cgroup.subtree_control"), "");
}

TEST_F(FakeCgroupfs, UnifiedKeyThatIsAPathIsRefused) {
    Hierarchy unified = v2({"memory"});
    std::string dir = leaf(unified);
    put_file(unified.mount_point + "/kiln/x");
    Cgroup cg(layout_of({unified}), kPath, "");
    for (const char* key : {"../x", "..", ".", "a/b", ""}) {
        oci::Resources r;
        r.unified = {{key, "1"}};
        Failure f = failure_of([&] { cg.apply(r); });
        EXPECT_EQ(f.code, Errc::invalid_argument) << key;
        EXPECT_EQ(f.message, "linux.resources.unified." + std::string(key) + ": not a cgroup file name");
    }
    EXPECT_EQ(slurp(unified.mount_point + "/kiln/x"), "");
}

TEST_F(FakeCgroupfs, UnknownUnifiedKeyIsAnErrorNamingIt) {
    Hierarchy unified = v2({"memory"});
    leaf(unified);
    Cgroup cg(layout_of({unified}), kPath, "");
    oci::Resources r;
    r.unified = {{"foo.bar", "1"}};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.unified.foo.bar: no such cgroup v2 file; is the foo controller enabled on this host?");
}

TEST_F(FakeCgroupfs, UnifiedOnAV1OnlyHostIsAnError) {
    Cgroup cg = cgroup({v1("memory")});
    oci::Resources r;
    r.unified = {{"memory.high", "1"}};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_EQ(f.message, "linux.resources.unified: this host has no cgroup v2 hierarchy");
}

// ---- devices (v1) ----------------------------------------------------------------------------

oci::DeviceRule device_rule(bool allow, std::string type, std::optional<int64_t> major,
                            std::optional<int64_t> minor, std::string access) {
    return {.allow = allow, .type = std::move(type), .major = major, .minor = minor, .access = std::move(access)};
}

TEST_F(FakeCgroupfs, V1DevicesWriteDenyAndAllowLines) {
    Hierarchy devices = v1("devices");
    std::string dir = leaf(devices);
    WriteRecorder deny(dir + "/devices.deny");
    WriteRecorder allow(dir + "/devices.allow");
    Cgroup cg(layout_of({devices}), kPath, "");
    oci::Resources r;
    r.devices = {device_rule(false, "a", std::nullopt, std::nullopt, "rwm"),
                 device_rule(true, "c", 1, 3, "rwm"),
                 device_rule(true, "c", std::nullopt, std::nullopt, "m"),
                 device_rule(true, "b", 8, std::nullopt, ""),
                 device_rule(false, "", std::nullopt, std::nullopt, "r")};
    cg.apply(r);
    EXPECT_EQ(deny.written(), "aa");  // an empty type is "a", every device
    EXPECT_EQ(allow.written(), std::string("c 1:3 rwm") + "c *:* m" + "b 8:* rwm");
}

TEST_F(FakeCgroupfs, V1DevicesErrorNamesTheRule) {
    Hierarchy devices = v1("devices");
    std::string dir = leaf(devices);
    WriteRecorder deny(dir + "/devices.deny");
    Cgroup cg(layout_of({devices}), kPath, "");
    oci::Resources r;
    r.devices = {device_rule(false, "a", std::nullopt, std::nullopt, "rwm"), device_rule(true, "c", 1, 3, "rwm")};
    Failure f = failure_of([&] { cg.apply(r); });
    EXPECT_EQ(f.message, "linux.resources.devices[1]: write \"c 1:3 rwm\" to " + dir +
                             "/devices.allow: No such file or directory");
    EXPECT_EQ(deny.written(), "a");
}

// ---- processes, freezing, stats --------------------------------------------------------------

TEST_F(FakeCgroupfs, PidsReadsCgroupProcsOfTheUnifiedHierarchyFirst) {
    Hierarchy memory = v1("memory");
    Hierarchy unified = v2({});
    Cgroup cg = cgroup({memory, unified});
    put_file(memory.mount_point + std::string(kPath) + "/cgroup.procs", "1\n");
    put_file(unified.mount_point + std::string(kPath) + "/cgroup.procs", "12\n34\n");
    EXPECT_EQ(cg.pids(), (std::vector<pid_t>{12, 34}));
}

TEST_F(FakeCgroupfs, PidsOnV1PrefersThePidsHierarchyElseTheFirst) {
    Hierarchy memory = v1("memory");
    Hierarchy pids = v1("pids");
    Cgroup cg = cgroup({memory, pids});
    put_file(memory.mount_point + std::string(kPath) + "/cgroup.procs", "1\n");
    put_file(pids.mount_point + std::string(kPath) + "/cgroup.procs", "7\n8\n9\n");
    EXPECT_EQ(cg.pids(), (std::vector<pid_t>{7, 8, 9}));

    Cgroup no_pids = Cgroup(layout_of({memory}), kPath, "");
    EXPECT_EQ(no_pids.pids(), (std::vector<pid_t>{1}));
}

TEST_F(FakeCgroupfs, PidsOfAMissingCgroupIsEmpty) {
    Cgroup cg(layout_of({v2({})}), kPath, "");
    EXPECT_TRUE(cg.pids().empty());
}

TEST_F(FakeCgroupfs, AddProcessWritesThePidIntoEveryHierarchy) {
    Hierarchy memory = v1("memory");
    Hierarchy unified = v2({});
    Cgroup cg = cgroup({memory, unified});
    for (const auto& p : cg.paths()) put_file(p + "/cgroup.procs");
    cg.add_process(4321);
    for (const auto& p : cg.paths()) EXPECT_EQ(slurp(p + "/cgroup.procs"), "4321") << p;
}

TEST_F(FakeCgroupfs, V1FrozenReadsFreezerState) {
    Hierarchy freezer = v1("freezer");
    Cgroup cg = cgroup({freezer, v2({})});
    std::string state = freezer.mount_point + std::string(kPath) + "/freezer.state";
    EXPECT_FALSE(cg.frozen());  // no file
    put_file(state, "FROZEN\n");
    EXPECT_TRUE(cg.frozen());
    put_file(state, "FREEZING\n");
    EXPECT_FALSE(cg.frozen());
    put_file(state, "THAWED\n");
    EXPECT_FALSE(cg.frozen());
}

TEST_F(FakeCgroupfs, V2FrozenReadsCgroupEvents) {
    Hierarchy unified = v2({});
    Cgroup cg = cgroup({unified});
    std::string events = unified.mount_point + std::string(kPath) + "/cgroup.events";
    put_file(events, "populated 1\nfrozen 1\n");
    EXPECT_TRUE(cg.frozen());
    put_file(events, "populated 1\nfrozen 0\n");
    EXPECT_FALSE(cg.frozen());
}

TEST_F(FakeCgroupfs, V1FreezeAndThawWriteFreezerState) {
    Hierarchy freezer = v1("freezer");
    Cgroup cg = cgroup({freezer});
    std::string state = freezer.mount_point + std::string(kPath) + "/freezer.state";
    put_file(state);
    cg.freeze();
    EXPECT_EQ(value_of(state), "FROZEN");
    cg.thaw();
    EXPECT_EQ(value_of(state), "THAWED");
}

TEST_F(FakeCgroupfs, V2FreezeAndThawWriteCgroupFreeze) {
    Hierarchy unified = v2({});
    Cgroup cg = cgroup({unified});
    std::string dir = unified.mount_point + kPath;
    put_file(dir + "/cgroup.freeze");
    put_file(dir + "/cgroup.events", "populated 1\nfrozen 1\n");
    cg.freeze();
    EXPECT_EQ(slurp(dir + "/cgroup.freeze"), "1");
    cg.thaw();
    EXPECT_EQ(slurp(dir + "/cgroup.freeze"), "0");
}

TEST_F(FakeCgroupfs, FreezeWithoutAFreezerIsAPrecondition) {
    Cgroup cg = cgroup({v1("memory")});
    Failure f = failure_of([&] { cg.freeze(); });
    EXPECT_EQ(f.code, Errc::failed_precondition);
    EXPECT_FALSE(cg.frozen());
}

TEST_F(FakeCgroupfs, KillUsesCgroupKillWhenThereIsOne) {
    Hierarchy unified = v2({});
    Cgroup cg = cgroup({unified});
    std::string dir = unified.mount_point + kPath;
    put_file(dir + "/cgroup.kill");
    cg.signal_all(SIGKILL);
    EXPECT_EQ(slurp(dir + "/cgroup.kill"), "1");
}

TEST_F(FakeCgroupfs, DestroyRemovesEveryDirectoryAndToleratesMissingOnes) {
    Cgroup cg = cgroup({v1("memory"), v2({})});
    ::unlink((cg.paths()[1] + "/cgroup.subtree_control").c_str());
    cg.destroy();
    for (const auto& p : cg.paths()) EXPECT_FALSE(exists(p)) << p;
    EXPECT_NO_THROW(cg.destroy());
    EXPECT_TRUE(exists(tmp / "memory"));
}

TEST_F(FakeCgroupfs, V1Stats) {
    Hierarchy cpu = v1("cpu,cpuacct");
    Hierarchy memory = v1("memory");
    Hierarchy pids = v1("pids");
    Cgroup cg = cgroup({cpu, memory, pids});
    put_file(cpu.mount_point + kPath + "/cpuacct.usage", "123456789\n");
    put_file(memory.mount_point + kPath + "/memory.usage_in_bytes", "4096\n");
    put_file(memory.mount_point + kPath + "/memory.limit_in_bytes", "9223372036854771712\n");  // no limit
    put_file(pids.mount_point + kPath + "/pids.current", "3\n");
    put_file(pids.mount_point + kPath + "/pids.max", "max\n");
    Stats s = cg.stats();
    EXPECT_EQ(s.cpu_usage_ns, 123456789u);
    EXPECT_EQ(s.memory_usage, 4096u);
    EXPECT_FALSE(s.memory_limit);
    EXPECT_EQ(s.pids_current, 3u);
    EXPECT_FALSE(s.pids_limit);

    put_file(memory.mount_point + kPath + "/memory.limit_in_bytes", "1048576\n");
    put_file(pids.mount_point + kPath + "/pids.max", "10\n");
    s = cg.stats();
    EXPECT_EQ(s.memory_limit, 1048576u);
    EXPECT_EQ(s.pids_limit, 10u);
}

TEST_F(FakeCgroupfs, V2Stats) {
    Hierarchy unified = v2({"cpu", "memory", "pids"});
    Cgroup cg = cgroup({unified});
    std::string dir = unified.mount_point + kPath;
    put_file(dir + "/cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
    put_file(dir + "/memory.current", "8192\n");
    put_file(dir + "/memory.max", "max\n");
    put_file(dir + "/pids.current", "2\n");
    put_file(dir + "/pids.max", "20\n");
    Stats s = cg.stats();
    EXPECT_EQ(s.cpu_usage_ns, 1500000u);
    EXPECT_EQ(s.memory_usage, 8192u);
    EXPECT_FALSE(s.memory_limit);
    EXPECT_EQ(s.pids_current, 2u);
    EXPECT_EQ(s.pids_limit, 20u);
}

TEST_F(FakeCgroupfs, StatsOfAnEmptyCgroupAreZero) {
    Cgroup cg = cgroup({v2({"cpu", "memory", "pids"})});
    Stats s = cg.stats();
    EXPECT_EQ(s.cpu_usage_ns, 0u);
    EXPECT_EQ(s.memory_usage, 0u);
    EXPECT_FALSE(s.memory_limit);
    EXPECT_EQ(s.pids_current, 0u);
}

}  // namespace
}  // namespace kiln::cgroups
