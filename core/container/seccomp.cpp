// linux.seccomp -> a classic BPF program: compile_seccomp() runs libseccomp in the runtime before
// init is cloned; load_seccomp() is all that init does with the result, between clone and exec.
#include "core/container/seccomp.hpp"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string_view>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/syscalls.hpp"

// Kernel ABI values that uapi headers older than 5.19 lack.
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

namespace kiln::container {
namespace {

struct ActionName {
    std::string_view name;
    uint32_t action;  // for ERRNO and TRACE, without the 16 data bits
    bool takes_errno;
};

constexpr ActionName kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
};

struct OperatorName {
    std::string_view name;
    scmp_compare op;
};

constexpr OperatorName kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
    {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

struct ArchitectureName {
    std::string_view name;
    uint32_t token;
};

// Every architecture the linked libseccomp knows; the newer ones only when its header has them.
constexpr ArchitectureName kArchitectures[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#endif
#ifdef SCMP_ARCH_M68K
    {"SCMP_ARCH_M68K", SCMP_ARCH_M68K},
#endif
#ifdef SCMP_ARCH_SH
    {"SCMP_ARCH_SH", SCMP_ARCH_SH},
    {"SCMP_ARCH_SHEB", SCMP_ARCH_SHEB},
#endif
};

struct FlagName {
    std::string_view name;
    unsigned bit;
};

// TSYNC is accepted and ignored, as runc does: init is single-threaded when it loads the filter,
// and the kernel refuses TSYNC together with NEW_LISTENER.
constexpr FlagName kFlags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 0},
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

// libseccomp refuses SCMP_ACT_ERRNO(x) for x >= MAX_ERRNO; TRACE carries any 16-bit message.
constexpr uint32_t kMaxErrnoRet = 4094;
constexpr uint32_t kMaxTraceRet = 0xffff;

// Init loads the filter and then sends the listener fd to the runtime with these calls. A NOTIFY
// rule on one of them would block init until an agent answers, but the agent only gets the fd
// once init has sent it (runc refuses NOTIFY on write for the same reason).
constexpr std::string_view kSyscallsInitMakesAfterLoad[] = {"write", "sendmsg"};

// Past this many rules, a binary tree over syscall numbers beats libseccomp's linear list. As in
// runc: libseccomp <= 2.5.4 misbehaves with the tree and no rules, and builds it 4 per node.
constexpr size_t kBinaryTreeAbove = 32;

const std::string kPath = "linux.seccomp";

[[noreturn]] void fail(const std::string& path, const std::string& what) { invalid(path + ": " + what); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string indexed(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

template <typename Entry, size_t N>
const Entry* find_by_name(const Entry (&table)[N], std::string_view name) {
    const Entry* it = std::ranges::find(table, name, &Entry::name);
    return it == std::end(table) ? nullptr : it;
}

template <typename Entry, size_t N>
std::vector<std::string> sorted_names(const Entry (&table)[N]) {
    std::vector<std::string> names;
    for (const Entry& entry : table) names.emplace_back(entry.name);
    std::ranges::sort(names);
    return names;
}

struct ReleaseFilter {
    void operator()(void* ctx) const noexcept { seccomp_release(ctx); }
};
using FilterContext = std::unique_ptr<void, ReleaseFilter>;

// `errno_path` names the errnoRet field that goes with the action at `action_path`.
uint32_t resolve_action(const std::string& name, const std::optional<uint32_t>& errno_ret,
                        const std::string& action_path, const std::string& errno_path) {
    const ActionName* action = find_by_name(kActions, name);
    if (!action) fail(action_path, "unknown action " + quoted(name));
    if (!action->takes_errno) {
        if (errno_ret)
            fail(errno_path, "only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not " + name);
        return action->action;
    }
    uint32_t limit = action->action == SCMP_ACT_ERRNO(0) ? kMaxErrnoRet : kMaxTraceRet;
    uint32_t data = errno_ret.value_or(EPERM);
    if (data > limit)
        fail(errno_path, "must be at most " + std::to_string(limit) + " for " + name + ", got " +
                             std::to_string(data));
    return action->action | data;
}

std::vector<scmp_arg_cmp> conditions_of(const std::vector<oci::SeccompArg>& args,
                                        const std::string& path) {
    std::vector<scmp_arg_cmp> conditions;
    for (size_t i = 0; i < args.size(); ++i) {
        const oci::SeccompArg& arg = args[i];
        std::string arg_path = indexed(path, i);
        if (arg.index > 5)
            fail(arg_path + ".index", "a system call has arguments 0 to 5, got " + std::to_string(arg.index));
        const OperatorName* op = find_by_name(kOperators, arg.op);
        if (!op) fail(arg_path + ".op", "unknown operator " + quoted(arg.op));
        // For MASKED_EQ libseccomp reads datum_a as the mask and datum_b as the value to compare
        // with, which is how runc and crun pass value and valueTwo.
        conditions.push_back({.arg = arg.index, .op = op->op, .datum_a = arg.value, .datum_b = arg.value_two});
    }
    return conditions;
}

bool repeats_an_index(const std::vector<scmp_arg_cmp>& conditions) {
    unsigned seen = 0;
    for (const scmp_arg_cmp& c : conditions) {
        unsigned bit = 1u << c.arg;
        if (seen & bit) return true;
        seen |= bit;
    }
    return false;
}

// Returns the number of libseccomp rules added.
size_t add_rules(scmp_filter_ctx ctx, uint32_t action, int syscall,
                 const std::vector<scmp_arg_cmp>& conditions, const std::string& name,
                 const std::string& path) {
    auto add = [&](unsigned count, const scmp_arg_cmp* array) {
        int rc = seccomp_rule_add_array(ctx, action, syscall, count, array);
        if (rc < 0)
            fail(path, "libseccomp cannot add the rule for " + quoted(name) + ": " + std::strerror(-rc));
    };
    // libseccomp ANDs the conditions of a rule and refuses two on the same argument. Profiles
    // (Docker's, for personality) use that to mean "any of these values", so like runc and crun
    // we then add one rule per condition, which ORs all of them, including those on other args.
    if (!repeats_an_index(conditions)) {
        add(static_cast<unsigned>(conditions.size()), conditions.data());
        return 1;
    }
    for (const scmp_arg_cmp& condition : conditions) add(1, &condition);
    return conditions.size();
}

void set_attribute(scmp_filter_ctx ctx, scmp_filter_attr attribute, uint32_t value, const char* what) {
    if (int rc = seccomp_attr_set(ctx, attribute, value); rc < 0)
        throw_sys(-rc, "seccomp_attr_set", what);
}

std::vector<struct sock_filter> export_bpf(scmp_filter_ctx ctx) {
    Fd memfd(::memfd_create("kiln-seccomp-bpf", MFD_CLOEXEC));
    if (!memfd) throw_sys("memfd_create", "kiln-seccomp-bpf");
    if (int rc = seccomp_export_bpf(ctx, memfd.get()); rc < 0)
        throw_sys(-rc, "seccomp_export_bpf", "memfd");
    struct stat st = {};
    if (::fstat(memfd.get(), &st) < 0) throw_sys("fstat", "seccomp bpf memfd");
    size_t size = static_cast<size_t>(st.st_size);
    if (size % sizeof(struct sock_filter) != 0)
        throw Error(Errc::internal, "seccomp_export_bpf wrote " + std::to_string(size) +
                                        " bytes, not a whole number of instructions");
    std::vector<struct sock_filter> filter(size / sizeof(struct sock_filter));
    auto* bytes = reinterpret_cast<char*>(filter.data());
    for (size_t done = 0; done < size;) {
        ssize_t n = ::pread(memfd.get(), bytes + done, size - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_sys("pread", "seccomp bpf memfd");
        if (n == 0) throw Error(Errc::internal, "seccomp bpf memfd shrank while being read");
        done += static_cast<size_t>(n);
    }
    return filter;
}

// As libseccomp probes: with no program, the kernel checks the flags first (EINVAL for one it
// does not know) and then fails to read the program (EFAULT), so nothing is ever installed.
bool kernel_accepts(unsigned flag) {
    // WAIT_KILLABLE_RECV is refused on its own: it only means something with a listener.
    if (flag & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    return sys::seccomp(SECCOMP_SET_MODE_FILTER, flag, nullptr) < 0 && errno == EFAULT;
}

}  // namespace

SeccompProgram compile_seccomp(const oci::Seccomp& seccomp) {
    SeccompProgram program;

    uint32_t default_action = resolve_action(seccomp.default_action, seccomp.default_errno_ret,
                                             kPath + ".defaultAction", kPath + ".defaultErrnoRet");
    // runc refuses it too: the filter would also send the rest of init's own system calls, up
    // to and including execve, to an agent that has not received the listener fd yet.
    if (default_action == SCMP_ACT_NOTIFY)
        fail(kPath + ".defaultAction", "SCMP_ACT_NOTIFY cannot be the default action");

    FilterContext ctx(seccomp_init(default_action));
    if (!ctx)
        fail(kPath + ".defaultAction",
             "libseccomp cannot use " + seccomp.default_action + " with this kernel");
    // Only seccomp_load() reads this and we never call it, but off it stays: no_new_privs is
    // process.noNewPrivileges' business, not the filter's.
    set_attribute(ctx.get(), SCMP_FLTATR_CTL_NNP, 0, "SCMP_FLTATR_CTL_NNP");
    // The bad-arch action stays libseccomp's default, SCMP_ACT_KILL_THREAD, as in runc and crun.

    for (size_t i = 0; i < seccomp.architectures.size(); ++i) {
        const std::string& name = seccomp.architectures[i];
        const ArchitectureName* arch = find_by_name(kArchitectures, name);
        if (!arch) fail(indexed(kPath + ".architectures", i), "unknown architecture " + quoted(name));
        int rc = seccomp_arch_add(ctx.get(), arch->token);
        if (rc == -EDOM)
            fail(indexed(kPath + ".architectures", i),
                 name + " has another byte order than the native architecture, and a filter has one");
        // EEXIST: the native architecture is in every filter from the start.
        if (rc < 0 && rc != -EEXIST)
            fail(indexed(kPath + ".architectures", i),
                 "libseccomp cannot add " + name + ": " + std::strerror(-rc));
    }

    std::optional<size_t> wait_killable_flag;
    for (size_t i = 0; i < seccomp.flags.size(); ++i) {
        const FlagName* flag = find_by_name(kFlags, seccomp.flags[i]);
        if (!flag) fail(indexed(kPath + ".flags", i), "unknown flag " + quoted(seccomp.flags[i]));
        if (flag->bit == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) wait_killable_flag = i;
        program.flags |= flag->bit;
    }

    if (!seccomp.listener_metadata.empty() && seccomp.listener_path.empty())
        fail(kPath + ".listenerMetadata", "must not be set without listenerPath");

    size_t rule_count = 0;
    for (size_t i = 0; i < seccomp.syscalls.size(); ++i) {
        const oci::SeccompSyscall& entry = seccomp.syscalls[i];
        std::string path = indexed(kPath + ".syscalls", i);
        if (entry.names.empty()) fail(path + ".names", "must contain at least one system call name");
        uint32_t action = resolve_action(entry.action, entry.errno_ret, path + ".action", path + ".errnoRet");
        std::vector<scmp_arg_cmp> conditions = conditions_of(entry.args, path + ".args");

        for (size_t j = 0; j < entry.names.size(); ++j) {
            const std::string& name = entry.names[j];
            if (name.empty()) fail(indexed(path + ".names", j), "must not be empty");
            if (action == SCMP_ACT_NOTIFY && std::ranges::find(kSyscallsInitMakesAfterLoad, name) !=
                                                 std::end(kSyscallsInitMakesAfterLoad))
                fail(indexed(path + ".names", j),
                     "SCMP_ACT_NOTIFY cannot be used for " + quoted(name) +
                         ": the container's init needs it to hand the listener over");
        }
        // Decided by the profile alone, not by which names this kernel knows, as runc does.
        if (action == SCMP_ACT_NOTIFY) program.new_listener = true;

        // libseccomp refuses a rule that repeats the default action (EACCES); it changes nothing.
        if (action == default_action) continue;
        for (size_t j = 0; j < entry.names.size(); ++j) {
            int syscall = seccomp_syscall_resolve_name(entry.names[j].c_str());
            if (syscall == __NR_SCMP_ERROR) continue;  // unknown here: see the header
            rule_count += add_rules(ctx.get(), action, syscall, conditions, entry.names[j],
                                    indexed(path + ".names", j));
        }
    }

    if (program.new_listener) {
        if (seccomp.listener_path.empty())
            fail(kPath + ".listenerPath", "is required when a rule uses SCMP_ACT_NOTIFY");
        program.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        program.listener_path = seccomp.listener_path;
        program.listener_metadata = seccomp.listener_metadata;
    }
    // Without NOTIFY the spec says listenerPath is ignored, but the kernel refuses this flag.
    if (wait_killable_flag && !program.new_listener)
        fail(indexed(kPath + ".flags", *wait_killable_flag),
             "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a rule with SCMP_ACT_NOTIFY");

    // Only a faster filter is lost if this fails, so, like runc, carry on without it.
    if (rule_count > kBinaryTreeAbove) seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

    program.filter = export_bpf(ctx.get());
    if (program.filter.size() > BPF_MAXINSNS)
        fail(kPath, "the filter has " + std::to_string(program.filter.size()) +
                        " instructions, more than the kernel's limit of " + std::to_string(BPF_MAXINSNS));
    return program;
}

std::vector<std::string> seccomp_known_actions() { return sorted_names(kActions); }

std::vector<std::string> seccomp_known_operators() { return sorted_names(kOperators); }

std::vector<std::string> seccomp_known_architectures() { return sorted_names(kArchitectures); }

std::vector<std::string> seccomp_known_flags() { return sorted_names(kFlags); }

std::vector<std::string> seccomp_supported_flags() {
    std::vector<std::string> supported;
    for (const FlagName& flag : kFlags) {
        // TSYNC is always "supported" because it is ignored; runc reports it the same way.
        if (flag.bit == 0 || kernel_accepts(flag.bit)) supported.emplace_back(flag.name);
    }
    std::ranges::sort(supported);
    return supported;
}

}  // namespace kiln::container
