// cgroup v2 device programs on a real kernel: a process in the cgroup opens exactly the devices the
// rules allow, and attaching again replaces the rules instead of adding to them.
#include "core/cgroups/controllers/devices_bpf.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"

namespace kiln::cgroups {
namespace {

constexpr char kUnifiedRoot[] = "/sys/fs/cgroup/unified";

std::string skip_reason() {
    if (::geteuid() != 0) return "needs root to load and attach BPF programs";
    struct statfs fs;
    if (::statfs(kUnifiedRoot, &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
        return std::string(kUnifiedRoot) + " is not a cgroup2 mount";
    return {};
}

#define SKIP_UNLESS_SUPPORTED()                                                 \
    do {                                                                        \
        if (std::string why = skip_reason(); !why.empty()) GTEST_SKIP() << why; \
    } while (0)

// A fresh cgroup2 directory, removed at scope exit, taking its attached programs with it.
class ScratchCgroup {
public:
    ScratchCgroup() {
        static int serial = 0;
        path_ = std::string(kUnifiedRoot) + "/kiln-test-devbpf-" + std::to_string(::getpid()) +
                "-" + std::to_string(serial++);
        if (::mkdir(path_.c_str(), 0755) != 0) throw_sys("mkdir", path_);
        fd_ = Fd(::open(path_.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
        if (!fd_) {
            int err = errno;
            ::rmdir(path_.c_str());
            throw_sys(err, "open", path_);
        }
    }
    ScratchCgroup(const ScratchCgroup&) = delete;
    ScratchCgroup& operator=(const ScratchCgroup&) = delete;
    ~ScratchCgroup() {
        fd_.reset();
        if (::rmdir(path_.c_str()) != 0)
            ADD_FAILURE() << "rmdir " << path_ << ": " << std::strerror(errno);
    }

    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }

private:
    std::string path_;
    Fd fd_;
};

// A forked child, killed and reaped at scope exit unless waited for, so that no test leaves a
// process in the cgroup it is about to remove.
class Child {
public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    int wait() {
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return status;
    }

private:
    pid_t pid_;
};

enum ProbeResult : int { kNullOpened = 1, kZeroOpened = 2, kZeroEperm = 4, kNeverMoved = 64 };

std::string describe(int result) {
    std::string s;
    s += (result & kNullOpened) ? "/dev/null opened O_RDWR" : "/dev/null not opened";
    s += (result & kZeroOpened)  ? ", /dev/zero opened"
         : (result & kZeroEperm) ? ", /dev/zero EPERM"
                                 : ", /dev/zero other error";
    if (result & kNeverMoved) s += ", child never moved into the cgroup";
    return s;
}

// Forks a child that waits until it is in `cgroup`, tries /dev/null and /dev/zero, and reports
// through its exit status. Returns -1 (and fails the test) if the harness itself fails.
int probe_devices_in(const ScratchCgroup& cgroup) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        return -1;
    }
    Fd go_read(pipefd[0]), go_write(pipefd[1]);
    pid_t pid = ::fork();
    if (pid < 0) {
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        return -1;
    }
    if (pid == 0) {
        // Only system calls from here to _exit: this is a copy of a test process.
        ::close(pipefd[1]);
        char go = 0;
        if (::read(pipefd[0], &go, 1) != 1) ::_exit(kNeverMoved);
        int result = 0;
        if (::open("/dev/null", O_RDWR | O_CLOEXEC) >= 0) result |= kNullOpened;
        if (::open("/dev/zero", O_RDONLY | O_CLOEXEC) >= 0)
            result |= kZeroOpened;
        else if (errno == EPERM)
            result |= kZeroEperm;
        ::_exit(result);
    }
    Child child(pid);
    go_read.reset();

    const std::string procs = cgroup.path() + "/cgroup.procs";
    const std::string pid_text = std::to_string(pid);
    Fd procs_fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs_fd || ::write(procs_fd.get(), pid_text.data(), pid_text.size()) < 0) {
        ADD_FAILURE() << "moving " << pid << " into " << procs << ": " << std::strerror(errno);
        return -1;
    }
    if (::write(go_write.get(), "g", 1) != 1) {
        ADD_FAILURE() << "write to the child's pipe: " << std::strerror(errno);
        return -1;
    }
    const int status = child.wait();
    if (!WIFEXITED(status)) {
        ADD_FAILURE() << "the probe child did not exit normally (status " << status << ")";
        return -1;
    }
    return WEXITSTATUS(status);
}

// Asked of the kernel here rather than through devices_bpf.cpp, which is what is under test.
std::vector<uint32_t> attached_program_ids(int cgroup_fd) {
    std::vector<uint32_t> ids(64);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = static_cast<uint32_t>(cgroup_fd);
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = reinterpret_cast<uintptr_t>(ids.data());
    attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
    if (::syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) != 0) {
        ADD_FAILURE() << "BPF_PROG_QUERY: " << std::strerror(errno);
        return {};
    }
    ids.resize(attr.query.prog_cnt);
    return ids;
}

oci::DeviceRule rule(bool allow, std::string type, std::optional<int64_t> major,
                     std::optional<int64_t> minor, std::string access) {
    oci::DeviceRule r;
    r.allow = allow;
    r.type = std::move(type);
    r.major = major;
    r.minor = minor;
    r.access = std::move(access);
    return r;
}

const std::vector<oci::DeviceRule> kOnlyDevNull = {
    rule(false, "a", std::nullopt, std::nullopt, "rwm"),
    rule(true, "c", 1, 3, "rwm"),
};
const std::vector<oci::DeviceRule> kDevNullAndReadDevZero = {
    rule(false, "a", std::nullopt, std::nullopt, "rwm"),
    rule(true, "c", 1, 3, "rwm"),
    rule(true, "c", 1, 5, "r"),
};

TEST(DevicesBpf, AProcessInTheCgroupOpensOnlyAllowedDevices) {
    SKIP_UNLESS_SUPPORTED();
    ScratchCgroup cgroup;
    attach_device_program(cgroup.fd(), build_device_program(kOnlyDevNull));
    EXPECT_EQ(attached_program_ids(cgroup.fd()).size(), 1u);

    const int result = probe_devices_in(cgroup);
    ASSERT_GE(result, 0);
    EXPECT_EQ(result, kNullOpened | kZeroEperm) << describe(result);
}

TEST(DevicesBpf, ADenyRuleDeniesAnOpenThatNeedsMoreThanTheDeniedAccess) {
    SKIP_UNLESS_SUPPORTED();
    ScratchCgroup cgroup;
    // As in v1, denying "r" on /dev/null also denies the O_RDWR open (runc's program lets it
    // through).
    attach_device_program(cgroup.fd(), build_device_program({
                                           rule(true, "a", std::nullopt, std::nullopt, "rwm"),
                                           rule(false, "c", 1, 3, "r"),
                                       }));
    const int result = probe_devices_in(cgroup);
    ASSERT_GE(result, 0);
    EXPECT_EQ(result, kZeroOpened) << describe(result);
}

TEST(DevicesBpf, AttachingAgainReplacesTheRules) {
    SKIP_UNLESS_SUPPORTED();
    ScratchCgroup cgroup;
    attach_device_program(cgroup.fd(), build_device_program(kOnlyDevNull));
    const std::vector<uint32_t> first = attached_program_ids(cgroup.fd());
    ASSERT_EQ(first.size(), 1u);

    attach_device_program(cgroup.fd(), build_device_program(kDevNullAndReadDevZero));
    const std::vector<uint32_t> second = attached_program_ids(cgroup.fd());
    ASSERT_EQ(second.size(), 1u);
    EXPECT_NE(second[0], first[0]);

    const int result = probe_devices_in(cgroup);
    ASSERT_GE(result, 0);
    EXPECT_EQ(result, kNullOpened | kZeroOpened) << describe(result);
}

TEST(DevicesBpf, AProgramTheVerifierRejectsLeavesTheOldRulesInPlace) {
    SKIP_UNLESS_SUPPORTED();
    ScratchCgroup cgroup;
    attach_device_program(cgroup.fd(), build_device_program(kOnlyDevNull));
    const std::vector<uint32_t> before = attached_program_ids(cgroup.fd());

    // Exit without setting r0: the verifier refuses to read an uninitialised register.
    bpf_insn exit_only{};
    exit_only.code = BPF_JMP | BPF_EXIT;
    try {
        attach_device_program(cgroup.fd(), {exit_only});
        ADD_FAILURE() << "the verifier accepted a program that never sets r0";
    } catch (const SysError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("BPF_PROG_LOAD"), std::string::npos) << message;
        EXPECT_NE(message.find("R0"), std::string::npos) << "no verifier log in: " << message;
    }
    EXPECT_EQ(attached_program_ids(cgroup.fd()), before);

    const int result = probe_devices_in(cgroup);
    ASSERT_GE(result, 0);
    EXPECT_EQ(result, kNullOpened | kZeroEperm) << describe(result);
}

}  // namespace
}  // namespace kiln::cgroups
