// linux.seccomp translation, and the filters it produces loaded for real in forked children
// (no_new_privs makes that possible without root).
#include "core/container/seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"

namespace kiln::container {
namespace {

constexpr int kDeniedErrno = 42;

// Exit codes of a filtered child that could not get as far as running the test body.
constexpr int kNoNewPrivsFailed = 250;
constexpr int kLoadFailed = 251;

oci::SeccompSyscall rule(std::vector<std::string> names, std::string action,
                         std::optional<uint32_t> errno_ret = {}, std::vector<oci::SeccompArg> args = {}) {
    return {.names = std::move(names), .action = std::move(action), .errno_ret = errno_ret, .args = std::move(args)};
}

oci::SeccompArg arg(uint32_t index, std::string op, uint64_t value, uint64_t value_two = 0) {
    return {.index = index, .value = value, .value_two = value_two, .op = std::move(op)};
}

// A linux.seccomp object, set field by field with the names config.json gives them.
class Profile {
public:
    explicit Profile(std::string default_action) { seccomp_.default_action = std::move(default_action); }
    Profile& default_errno_ret(uint32_t value) { return set(seccomp_.default_errno_ret, value); }
    Profile& architectures(std::vector<std::string> v) { return set(seccomp_.architectures, std::move(v)); }
    Profile& flags(std::vector<std::string> v) { return set(seccomp_.flags, std::move(v)); }
    Profile& listener_path(std::string v) { return set(seccomp_.listener_path, std::move(v)); }
    Profile& listener_metadata(std::string v) { return set(seccomp_.listener_metadata, std::move(v)); }
    Profile& syscalls(std::vector<oci::SeccompSyscall> v) { return set(seccomp_.syscalls, std::move(v)); }
    operator const oci::Seccomp&() const { return seccomp_; }

private:
    template <typename Field, typename Value>
    Profile& set(Field& field, Value&& value) {
        field = std::forward<Value>(value);
        return *this;
    }
    oci::Seccomp seccomp_;
};

Profile allow_except(std::vector<oci::SeccompSyscall> syscalls) {
    return std::move(Profile("SCMP_ACT_ALLOW").syscalls(std::move(syscalls)));
}

std::string error_of(const oci::Seccomp& seccomp) {
    try {
        compile_seccomp(seccomp);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
        return e.what();
    }
    return "";
}

std::string bytes_of(const SeccompProgram& program) {
    return std::string(reinterpret_cast<const char*>(program.filter.data()),
                       program.filter.size() * sizeof(struct sock_filter));
}

// Forks a child that sets no_new_privs, loads `program` and exits with what `body(load result)`
// returns. Returns the wait status. `body` runs under the filter: plain system calls only.
template <typename Body>
int run_filtered(const SeccompProgram& program, Body body) {
    pid_t pid = ::fork();
    if (pid < 0) {
        ADD_FAILURE() << "fork: " << std::strerror(errno);
        return W_EXITCODE(255, 0);
    }
    if (pid == 0) {
        // A SIGSYS death should not leave a core behind.
        struct rlimit no_core = {0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(kNoNewPrivsFailed);
        int rc = load_seccomp(program);
        if (rc < 0) ::_exit(kLoadFailed);
        ::_exit(body(rc));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

std::string describe(int status) {
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("killed by ") + ::strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

// The exit code of the child, or -1 (with the reason as a failure) when it did not exit.
int exit_code_of(int status) {
    if (!WIFEXITED(status)) {
        ADD_FAILURE() << "the filtered child was " << describe(status);
        return -1;
    }
    int code = WEXITSTATUS(status);
    if (code == kNoNewPrivsFailed) ADD_FAILURE() << "the child could not set no_new_privs";
    if (code == kLoadFailed) ADD_FAILURE() << "the child could not load the filter";
    return code;
}

// --- Translation errors name the field ---------------------------------------------------------

TEST(SeccompCompile, UnknownDefaultAction) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_FOO")),
              "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
}

TEST(SeccompCompile, UnknownRuleAction) {
    EXPECT_EQ(error_of(allow_except({rule({"getpid"}, "SCMP_ACT_ERRNO"), rule({"getppid"}, "SCMP_ACT_DENY")})),
              "linux.seccomp.syscalls[1].action: unknown action \"SCMP_ACT_DENY\"");
}

TEST(SeccompCompile, UnknownOperator) {
    EXPECT_EQ(error_of(allow_except({rule({"fcntl"}, "SCMP_ACT_ERRNO", {},
                                          {arg(0, "SCMP_CMP_EQ", 1), arg(1, "SCMP_CMP_SAME", 1)})})),
              "linux.seccomp.syscalls[0].args[1].op: unknown operator \"SCMP_CMP_SAME\"");
}

TEST(SeccompCompile, ArgumentIndexPastFive) {
    EXPECT_EQ(error_of(allow_except({rule({"fcntl"}, "SCMP_ACT_ERRNO", {}, {arg(6, "SCMP_CMP_EQ", 1)})})),
              "linux.seccomp.syscalls[0].args[0].index: a system call has arguments 0 to 5, got 6");
}

TEST(SeccompCompile, UnknownArchitecture) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_ALLOW").architectures({"SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"})),
              "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_VAX\"");
}

TEST(SeccompCompile, UnknownFlag) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_ALLOW").flags({"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FAST"})),
              "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_FAST\"");
}

TEST(SeccompCompile, ErrnoRetOnActionWithoutErrno) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_ERRNO").syscalls({rule({"getpid"}, "SCMP_ACT_ALLOW", 1)})),
              "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an "
              "errno, not SCMP_ACT_ALLOW");
    EXPECT_EQ(error_of(Profile("SCMP_ACT_KILL").default_errno_ret(1)),
              "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, "
              "not SCMP_ACT_KILL");
}

TEST(SeccompCompile, ErrnoRetOutOfRange) {
    EXPECT_EQ(error_of(allow_except({rule({"getpid"}, "SCMP_ACT_ERRNO", 4095)})),
              "linux.seccomp.syscalls[0].errnoRet: must be at most 4094 for SCMP_ACT_ERRNO, got 4095");
    EXPECT_EQ(error_of(allow_except({rule({"getpid"}, "SCMP_ACT_ERRNO", 4094)})), "");
    EXPECT_EQ(error_of(Profile("SCMP_ACT_TRACE").default_errno_ret(65536)),
              "linux.seccomp.defaultErrnoRet: must be at most 65535 for SCMP_ACT_TRACE, got 65536");
    EXPECT_EQ(error_of(Profile("SCMP_ACT_TRACE").default_errno_ret(65535)), "");
}

TEST(SeccompCompile, EmptyNames) {
    EXPECT_EQ(error_of(allow_except({rule({}, "SCMP_ACT_ERRNO")})),
              "linux.seccomp.syscalls[0].names: must contain at least one system call name");
    EXPECT_EQ(error_of(allow_except({rule({"getpid", ""}, "SCMP_ACT_ERRNO")})),
              "linux.seccomp.syscalls[0].names[1]: must not be empty");
}

TEST(SeccompCompile, NotifyNeedsListenerPath) {
    EXPECT_EQ(error_of(allow_except({rule({"getppid"}, "SCMP_ACT_NOTIFY")})),
              "linux.seccomp.listenerPath: is required when a rule uses SCMP_ACT_NOTIFY");
}

TEST(SeccompCompile, NotifyCannotBeTheDefault) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_NOTIFY").listener_path("/run/agent.sock")),
              "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
}

TEST(SeccompCompile, NotifyCannotTrapWhatInitNeedsToHandOverTheListener) {
    Profile seccomp = allow_except({rule({"getppid", "write"}, "SCMP_ACT_NOTIFY")});
    seccomp.listener_path("/run/agent.sock");
    EXPECT_EQ(error_of(seccomp),
              "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for \"write\": the "
              "container's init needs it to hand the listener over");
}

TEST(SeccompCompile, ListenerMetadataNeedsListenerPath) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_ALLOW").listener_metadata("x")),
              "linux.seccomp.listenerMetadata: must not be set without listenerPath");
}

TEST(SeccompCompile, WaitKillableRecvNeedsNotify) {
    EXPECT_EQ(error_of(Profile("SCMP_ACT_ALLOW").flags({"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"})),
              "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with "
              "SCMP_ACT_NOTIFY");
}

TEST(SeccompCompile, RulesWithTheDefaultActionAreStillChecked) {
    // Such a rule adds nothing to the filter, but a typo in it is still a typo.
    EXPECT_EQ(error_of(allow_except({rule({"fcntl"}, "SCMP_ACT_ALLOW", {}, {arg(0, "SCMP_CMP_BOGUS", 1)})})),
              "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_BOGUS\"");
}

// --- What the translation produces ---------------------------------------------------------------

TEST(SeccompCompile, UnknownSyscallNamesAreSkipped) {
    SeccompProgram with_unknown = compile_seccomp(allow_except(
        {rule({"kiln_no_such_syscall", "getppid"}, "SCMP_ACT_ERRNO"), rule({"kiln_neither"}, "SCMP_ACT_KILL")}));
    SeccompProgram without = compile_seccomp(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO")}));
    EXPECT_EQ(bytes_of(with_unknown), bytes_of(without));
}

TEST(SeccompCompile, ProducesADifferentProgramForEachProfile) {
    auto compile = [](const oci::Seccomp& seccomp) { return bytes_of(compile_seccomp(seccomp)); };
    std::string allow_all = compile(allow_except({}));
    std::string errno_42 = compile(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO", 42)}));
    std::string errno_43 = compile(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO", 43)}));
    std::string on_arg = compile(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO", 42, {arg(0, "SCMP_CMP_EQ", 7)})}));
    EXPECT_FALSE(allow_all.empty());
    EXPECT_EQ(allow_all.size() % sizeof(struct sock_filter), 0u);
    EXPECT_NE(allow_all, errno_42);
    EXPECT_NE(errno_42, errno_43);
    EXPECT_NE(errno_42, on_arg);
}

TEST(SeccompCompile, ErrnoDefaultsToEperm) {
    auto compile = [](const oci::Seccomp& seccomp) { return bytes_of(compile_seccomp(seccomp)); };
    EXPECT_EQ(compile(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO")})),
              compile(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO", EPERM)})));
    EXPECT_EQ(compile(Profile("SCMP_ACT_ERRNO")),
              compile(Profile("SCMP_ACT_ERRNO").default_errno_ret(EPERM)));
    EXPECT_NE(compile(Profile("SCMP_ACT_ERRNO")),
              compile(Profile("SCMP_ACT_ERRNO").default_errno_ret(ENOSYS)));
}

TEST(SeccompCompile, MapsFlagNamesToKernelBits) {
    SeccompProgram log = compile_seccomp(Profile("SCMP_ACT_ALLOW").flags({"SECCOMP_FILTER_FLAG_LOG"}));
    EXPECT_EQ(log.flags, static_cast<unsigned>(SECCOMP_FILTER_FLAG_LOG));
    SeccompProgram both = compile_seccomp(
        Profile("SCMP_ACT_ALLOW").flags({"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"}));
    EXPECT_EQ(both.flags, static_cast<unsigned>(SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_LOG));
    EXPECT_FALSE(both.new_listener);
}

TEST(SeccompCompile, TsyncIsAcceptedAndIgnored) {
    SeccompProgram program =
        compile_seccomp(Profile("SCMP_ACT_ALLOW").flags({"SECCOMP_FILTER_FLAG_TSYNC"}));
    EXPECT_EQ(program.flags, 0u);
}

TEST(SeccompCompile, NotifyAsksForAListener) {
    SeccompProgram program = compile_seccomp(Profile("SCMP_ACT_ALLOW")
                                                 .flags({"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"})
                                                 .listener_path("/run/agent.sock")
                                                 .listener_metadata("MKNOD=/dev/null")
                                                 .syscalls({rule({"mknod"}, "SCMP_ACT_NOTIFY")}));
    EXPECT_TRUE(program.new_listener);
    EXPECT_EQ(program.flags,
              static_cast<unsigned>(SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV));
    EXPECT_EQ(program.listener_path, "/run/agent.sock");
    EXPECT_EQ(program.listener_metadata, "MKNOD=/dev/null");
}

TEST(SeccompCompile, ListenerPathWithoutNotifyIsIgnored) {
    // runtime-spec: "If the SCMP_ACT_NOTIFY action is not used this value is ignored."
    SeccompProgram program = compile_seccomp(Profile("SCMP_ACT_ALLOW")
                                                 .listener_path("/run/agent.sock")
                                                 .listener_metadata("x")
                                                 .syscalls({rule({"getppid"}, "SCMP_ACT_ERRNO")}));
    EXPECT_FALSE(program.new_listener);
    EXPECT_EQ(program.flags, 0u);
    EXPECT_EQ(program.listener_path, "");
    EXPECT_EQ(program.listener_metadata, "");
}

TEST(SeccompCompile, AcceptsEveryKnownActionOperatorAndArchitecture) {
    for (const std::string& action : seccomp_known_actions()) {
        Profile seccomp = allow_except({rule({"getppid"}, action)});
        seccomp.listener_path("/run/agent.sock");
        EXPECT_NO_THROW(compile_seccomp(seccomp)) << action;
    }
    for (const std::string& op : seccomp_known_operators())
        EXPECT_NO_THROW(compile_seccomp(allow_except({rule({"fcntl"}, "SCMP_ACT_ERRNO", {}, {arg(1, op, 3, 1)})})))
            << op;
    // Architectures of the other byte order cannot share a filter with the native one; they
    // are still known.
    for (const std::string& arch : seccomp_known_architectures()) {
        Profile seccomp = allow_except({rule({"getppid", "socketcall"}, "SCMP_ACT_ERRNO")});
        seccomp.architectures({arch});
        std::string error = error_of(seccomp);
        EXPECT_TRUE(error.empty() || error.find("byte order") != std::string::npos) << error;
    }
}

TEST(SeccompCompile, ArchitectureOfTheOtherByteOrder) {
    const char* other = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? "SCMP_ARCH_S390X" : "SCMP_ARCH_X86_64";
    EXPECT_EQ(error_of(Profile("SCMP_ACT_ALLOW").architectures({other})),
              "linux.seccomp.architectures[0]: " + std::string(other) +
                  " has another byte order than the native architecture, and a filter has one");
}

// --- The programs, loaded into forked children ------------------------------------------------

TEST(SeccompLoad, ErrnoRuleReturnsTheErrno) {
    SeccompProgram program = compile_seccomp(allow_except({rule({"getppid"}, "SCMP_ACT_ERRNO", kDeniedErrno)}));
    int status = run_filtered(program, [](int) {
        errno = 0;
        if (::syscall(SYS_getppid) != -1) return 1;
        if (errno != kDeniedErrno) return 2;
        if (::syscall(SYS_getpid) <= 0) return 3;  // what no rule names is still allowed
        return 0;
    });
    EXPECT_EQ(exit_code_of(status), 0) << "1: getppid succeeded, 2: wrong errno, 3: getpid failed";
}

// fcntl commands whose denial (errno 42) sets bits 0, 1, 2 of denied_fcntls().
constexpr int kProbeCommands[] = {F_GETFD, F_SETFD, F_GETFL};
constexpr int kUnexpectedError = 64;

int denied_fcntls(int fd) {
    int denied = 0;
    for (int i = 0; i < 3; ++i) {
        int cmd = kProbeCommands[i];
        errno = 0;
        if (::syscall(SYS_fcntl, fd, cmd, cmd == F_SETFD ? FD_CLOEXEC : 0) == -1)
            denied |= errno == kDeniedErrno ? (1 << i) : kUnexpectedError;
    }
    return denied;
}

struct OperatorCase {
    const char* op;
    uint64_t value;
    uint64_t value_two;
    int denied;  // bits as in denied_fcntls(); the commands are F_GETFD = 1, F_SETFD = 2, F_GETFL = 3
};

void PrintTo(const OperatorCase& c, std::ostream* os) { *os << c.op; }

class SeccompOperator : public testing::TestWithParam<OperatorCase> {};

TEST_P(SeccompOperator, DeniesExactlyTheMatchingCommands) {
    const OperatorCase& c = GetParam();
    SeccompProgram program = compile_seccomp(
        allow_except({rule({"fcntl"}, "SCMP_ACT_ERRNO", kDeniedErrno, {arg(1, c.op, c.value, c.value_two)})}));
    Fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(devnull);
    int fd = devnull.get();
    EXPECT_EQ(exit_code_of(run_filtered(program, [fd](int) { return denied_fcntls(fd); })), c.denied);
}

INSTANTIATE_TEST_SUITE_P(
    EveryOperator, SeccompOperator,
    testing::Values(OperatorCase{"SCMP_CMP_NE", 2, 0, 0b101}, OperatorCase{"SCMP_CMP_LT", 2, 0, 0b001},
                    OperatorCase{"SCMP_CMP_LE", 2, 0, 0b011}, OperatorCase{"SCMP_CMP_EQ", 2, 0, 0b010},
                    OperatorCase{"SCMP_CMP_GE", 2, 0, 0b110}, OperatorCase{"SCMP_CMP_GT", 2, 0, 0b100},
                    // value is the mask, valueTwo the datum: cmd & 3 == 1 holds for F_GETFD only.
                    // Swapped, cmd & 1 == 3 would hold for none.
                    OperatorCase{"SCMP_CMP_MASKED_EQ", 3, 1, 0b001}),
    [](const testing::TestParamInfo<OperatorCase>& info) {
        return std::string(info.param.op + std::strlen("SCMP_CMP_"));
    });

TEST(SeccompLoad, ConditionsOnDifferentArgumentsAreAnded) {
    Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    Fd b(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(a && b);
    int fd_a = a.get(), fd_b = b.get();
    SeccompProgram program = compile_seccomp(allow_except(
        {rule({"fcntl"}, "SCMP_ACT_ERRNO", kDeniedErrno,
              {arg(0, "SCMP_CMP_EQ", static_cast<uint64_t>(fd_a)), arg(1, "SCMP_CMP_EQ", F_GETFD)})}));
    int status = run_filtered(program, [=](int) { return denied_fcntls(fd_a) | denied_fcntls(fd_b) << 3; });
    EXPECT_EQ(exit_code_of(status), 0b000'001) << "only F_GETFD on the first fd should be denied";
}

TEST(SeccompLoad, RepeatedArgumentIndexOrsEveryCondition) {
    // As runc does: once an index repeats, every condition of the rule becomes a rule of its own,
    // so the condition on arg 0 no longer narrows the others.
    Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    Fd b(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(a && b);
    int fd_a = a.get(), fd_b = b.get();
    SeccompProgram program = compile_seccomp(allow_except(
        {rule({"fcntl"}, "SCMP_ACT_ERRNO", kDeniedErrno,
              {arg(0, "SCMP_CMP_EQ", static_cast<uint64_t>(fd_a)), arg(1, "SCMP_CMP_EQ", F_GETFD),
               arg(1, "SCMP_CMP_EQ", F_GETFL)})}));
    int status = run_filtered(program, [=](int) { return denied_fcntls(fd_a) | denied_fcntls(fd_b) << 3; });
    EXPECT_EQ(exit_code_of(status), 0b101'111)
        << "every command on the first fd, F_GETFD and F_GETFL on the second should be denied";
}

class SeccompKill : public testing::TestWithParam<const char*> {};

TEST_P(SeccompKill, KillsTheChildWithSigsys) {
    SeccompProgram program = compile_seccomp(allow_except({rule({"getppid"}, GetParam())}));
    int status = run_filtered(program, [](int) {
        ::syscall(SYS_getppid);
        return 0;
    });
    ASSERT_TRUE(WIFSIGNALED(status)) << describe(status);
    EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

INSTANTIATE_TEST_SUITE_P(KillAndTrap, SeccompKill,
                         testing::Values("SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL",
                                         "SCMP_ACT_TRAP"),
                         [](const testing::TestParamInfo<const char*>& info) {
                             return std::string(info.param + std::strlen("SCMP_ACT_"));
                         });

TEST(SeccompLoad, DefaultErrnoWithALongAllowList) {
    // Over 32 rules, so libseccomp builds its binary tree; several architectures and names that
    // exist only on some of them, as in Docker's profile.
    std::vector<std::string> allowed = {
        "exit_group", "exit",     "getpid",     "rt_sigreturn", "read",         "write",      "close",
        "fstat",      "lseek",    "mmap",       "mprotect",     "munmap",       "brk",        "rt_sigaction",
        "ioctl",      "pread64",  "pwrite64",   "readv",        "writev",       "access",     "pipe",
        "select",     "mremap",   "msync",      "mincore",      "madvise",      "dup",        "dup2",
        "pause",      "nanosleep", "getitimer", "alarm",        "setitimer",    "sendfile",   "socket",
        "connect",    "socketcall", "ugetrlimit", "arm_fadvise64_64", "s390_pci_mmio_read", "kiln_unknown"};
    SeccompProgram program = compile_seccomp(
        Profile("SCMP_ACT_ERRNO")
            .default_errno_ret(kDeniedErrno)
            .architectures({"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"})
            .syscalls({rule(allowed, "SCMP_ACT_ALLOW")}));
    int status = run_filtered(program, [](int) {
        if (::syscall(SYS_getpid) <= 0) return 1;
        errno = 0;
        if (::syscall(SYS_getppid) != -1 || errno != kDeniedErrno) return 2;
        return 0;
    });
    EXPECT_EQ(exit_code_of(status), 0) << "1: allowed getpid failed, 2: getppid was not denied with 42";
}

TEST(SeccompLoad, NotifyReturnsAListenerFd) {
    Profile seccomp = allow_except({rule({"getppid"}, "SCMP_ACT_NOTIFY")});
    seccomp.listener_path("/run/agent.sock");
    int status = run_filtered(compile_seccomp(seccomp), [](int listener) {
        if (listener <= 0) return 1;
        if (::fcntl(listener, F_GETFD) < 0) return 2;
        return 0;
    });
    EXPECT_EQ(exit_code_of(status), 0) << "1: no listener fd returned, 2: it is not an open fd";
}

TEST(SeccompLoad, WithoutListenerReturnsZero) {
    SeccompProgram program = compile_seccomp(allow_except({}));
    EXPECT_EQ(exit_code_of(run_filtered(program, [](int rc) { return rc; })), 0);
}

TEST(SeccompLoad, RefusedFlagIsAnErrorNotDropped) {
    SeccompProgram program = compile_seccomp(allow_except({}));
    program.flags |= 1u << 30;  // no such flag
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(kNoNewPrivsFailed);
        ::_exit(load_seccomp(program) == -EINVAL ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_EQ(exit_code_of(status), 0);
}

TEST(SeccompLoad, EmptyProgramIsRefused) { EXPECT_EQ(load_seccomp(SeccompProgram{}), -EINVAL); }

// --- features --------------------------------------------------------------------------------------

TEST(SeccompFeatures, KnowsWhatTheSpecLists) {
    std::vector<std::string> actions = {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                        "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                        "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"};
    EXPECT_EQ(seccomp_known_actions(), actions);
    std::vector<std::string> operators = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                          "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"};
    EXPECT_EQ(seccomp_known_operators(), operators);
    std::vector<std::string> flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                      "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
    EXPECT_EQ(seccomp_known_flags(), flags);
    std::vector<std::string> archs = seccomp_known_architectures();
    for (const char* arch : {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
                             "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
                             "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
                             "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                             "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64"})
        EXPECT_NE(std::ranges::find(archs, arch), archs.end()) << arch;
    EXPECT_TRUE(std::ranges::is_sorted(archs));
}

TEST(SeccompFeatures, SupportedFlagsAreKnownAndReallyLoad) {
    std::vector<std::string> known = seccomp_known_flags();
    std::vector<std::string> supported = seccomp_supported_flags();
    EXPECT_NE(std::ranges::find(supported, "SECCOMP_FILTER_FLAG_TSYNC"), supported.end());
    for (const std::string& flag : supported) {
        EXPECT_NE(std::ranges::find(known, flag), known.end()) << flag;
        Profile seccomp = allow_except({rule({"getppid"}, "SCMP_ACT_NOTIFY")});
        seccomp.flags({flag});
        seccomp.listener_path("/run/agent.sock");
        EXPECT_EQ(exit_code_of(run_filtered(compile_seccomp(seccomp), [](int) { return 0; })), 0)
            << flag << " is reported as supported but the kernel refuses it";
    }
}

}  // namespace
}  // namespace kiln::container
