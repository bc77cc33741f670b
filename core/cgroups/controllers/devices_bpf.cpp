// The cgroup v2 device controller: emulates the v1 devices cgroup over the OCI rules, compiles the
// result into a BPF_PROG_TYPE_CGROUP_DEVICE program and swaps it onto a cgroup with bpf(2).
#include "core/cgroups/controllers/devices_bpf.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"

namespace kiln::cgroups {
namespace {

constexpr uint32_t kAccessAll = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

// What a rule matches, short of its access: BPF_DEVCG_DEV_* and numbers, nullopt being "*".
struct DeviceMatch {
    uint32_t type = 0;
    std::optional<uint32_t> major;
    std::optional<uint32_t> minor;
    bool operator==(const DeviceMatch&) const = default;
};

struct Exception {
    DeviceMatch match;
    uint32_t access = 0;
};

std::string describe(const DeviceMatch& m, uint32_t access) {
    auto number = [](const std::optional<uint32_t>& n) { return n ? std::to_string(*n) : "*"; };
    std::string s = m.type == BPF_DEVCG_DEV_BLOCK ? "b " : "c ";
    s += number(m.major) + ":" + number(m.minor) + " ";
    if (access & BPF_DEVCG_ACC_READ) s += 'r';
    if (access & BPF_DEVCG_ACC_WRITE) s += 'w';
    if (access & BPF_DEVCG_ACC_MKNOD) s += 'm';
    return s;
}

// OCI leaves a number out for "*"; runc's configs also take -1 for it, so we do too.
std::optional<uint32_t> device_number(const std::optional<int64_t>& n, const std::string& field) {
    if (!n || *n == -1) return std::nullopt;
    if (*n < 0 || *n > int64_t{UINT32_MAX})
        invalid(field + ": " + std::to_string(*n) +
                " is not a device number (0 to 4294967295, or -1 for any)");
    return static_cast<uint32_t>(*n);
}

// The v1 devices cgroup's state machine, as runc's devices.Emulator keeps it: a default action and
// a set of exceptions that all take the opposite action. A rule of type "a" resets both, whatever
// its numbers and access (the kernel ignores them too); any other rule either widens an exception
// (its action differs from the default) or narrows one (it agrees with the default). The initial
// default is deny, as in runc's DeviceFilter (new(emulator)): rules without "a" are an allow list.
class DevicesEmulator {
public:
    void apply(const oci::DeviceRule& rule, const std::string& field) {
        DeviceMatch match;
        if (rule.type.empty() || rule.type == "a") {
            default_allow_ = rule.allow;
            exceptions_.clear();
            return;
        }
        if (rule.type == "c")
            match.type = BPF_DEVCG_DEV_CHAR;
        else if (rule.type == "b")
            match.type = BPF_DEVCG_DEV_BLOCK;
        else
            invalid(field + ".type: expected one of a, c, b, got \"" + rule.type + "\"");
        match.major = device_number(rule.major, field + ".major");
        match.minor = device_number(rule.minor, field + ".minor");

        uint32_t access = rule.access.empty() ? kAccessAll : 0;
        for (char c : rule.access) {
            switch (c) {
                case 'r':
                    access |= BPF_DEVCG_ACC_READ;
                    break;
                case 'w':
                    access |= BPF_DEVCG_ACC_WRITE;
                    break;
                case 'm':
                    access |= BPF_DEVCG_ACC_MKNOD;
                    break;
                default:
                    invalid(field + ".access: expected a combination of r, w and m, got \"" +
                            rule.access + "\"");
            }
        }
        if (rule.allow == default_allow_)
            narrow(match, access, field);
        else
            widen(match, access);
    }

    bool default_allow() const { return default_allow_; }
    const std::vector<Exception>& exceptions() const { return exceptions_; }

private:
    Exception* find(const DeviceMatch& match) {
        for (auto& e : exceptions_)
            if (e.match == match) return &e;
        return nullptr;
    }

    void widen(const DeviceMatch& match, uint32_t access) {
        if (Exception* e = find(match))
            e->access |= access;
        else
            exceptions_.push_back({match, access});
    }

    void narrow(const DeviceMatch& match, uint32_t access, const std::string& field) {
        // v1 only ever subtracts from an exception with exactly these numbers, so "deny c 1:3"
        // after "allow c *:* rwm" would silently leave 1:3 allowed. runc refuses such rules rather
        // than give a false sense of security, and so do we.
        const DeviceMatch wider[] = {{match.type, std::nullopt, match.minor},
                                     {match.type, match.major, std::nullopt},
                                     {match.type, std::nullopt, std::nullopt}};
        for (const DeviceMatch& w : wider) {
            if (w == match) continue;
            const Exception* e = find(w);
            if (e && (e->access & access))
                invalid(
                    field + ": \"" + describe(match, access) +
                    "\" cannot punch a hole in the earlier wildcard rule \"" +
                    describe(w, e->access) +
                    "\" (the v1 devices cgroup would ignore it); narrow the wildcard rule instead");
        }
        Exception* e = find(match);
        if (!e) return;
        e->access &= ~access;
        if (e->access == 0) exceptions_.erase(exceptions_.begin() + (e - exceptions_.data()));
    }

    bool default_allow_ = false;
    std::vector<Exception> exceptions_;  // in the order their rules first appeared
};

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

bpf_insn load_ctx_word(uint8_t dst, int16_t offset) {
    return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, offset, 0);
}
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
    return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov32_reg(uint8_t dst, uint8_t src) {
    return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
}
// The context fields are u32; JMP32 compares them as such, so a number above INT32_MAX still
// matches (a 64-bit JMP would compare against the sign-extended immediate and never match).
bpf_insn jmp32_imm(uint8_t op, uint8_t dst, uint32_t imm) {
    return insn(BPF_JMP32 | op | BPF_K, dst, 0, 0, static_cast<int32_t>(imm));
}
bpf_insn jmp32_reg(uint8_t op, uint8_t dst, uint8_t src) {
    return insn(BPF_JMP32 | op | BPF_X, dst, src, 0, 0);
}
bpf_insn exit_insn() {
    return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

// Registers the prologue fills from struct bpf_cgroup_dev_ctx, as in crun, runc and systemd.
constexpr uint8_t kType = BPF_REG_2, kAccess = BPF_REG_3, kMajor = BPF_REG_4, kMinor = BPF_REG_5;
constexpr uint8_t kScratch = BPF_REG_1;  // the ctx pointer is dead once the prologue has run

void append_prologue(std::vector<bpf_insn>& p) {
    p.push_back(load_ctx_word(kType, offsetof(bpf_cgroup_dev_ctx, access_type)));
    p.push_back(alu32_imm(BPF_AND, kType, 0xffff));
    p.push_back(load_ctx_word(kAccess, offsetof(bpf_cgroup_dev_ctx, access_type)));
    p.push_back(alu32_imm(BPF_RSH, kAccess, 16));
    p.push_back(load_ctx_word(kMajor, offsetof(bpf_cgroup_dev_ctx, major)));
    p.push_back(load_ctx_word(kMinor, offsetof(bpf_cgroup_dev_ctx, minor)));
}

void append_verdict(std::vector<bpf_insn>& p, bool allow) {
    p.push_back(alu32_imm(BPF_MOV, BPF_REG_0, allow ? 1 : 0));
    p.push_back(exit_insn());
}

// One block per exception: every test jumps past the block on a mismatch, and falling through to
// the end returns the exception's verdict.
void append_exception(std::vector<bpf_insn>& p, const Exception& e, bool allow) {
    std::vector<bpf_insn> block;
    block.push_back(jmp32_imm(BPF_JNE, kType, e.match.type));
    if (e.access != kAccessAll) {
        block.push_back(mov32_reg(kScratch, kAccess));
        block.push_back(alu32_imm(BPF_AND, kScratch, static_cast<int32_t>(e.access)));
        // As in v1: an allow exception must cover the whole request (runc does the same); a deny
        // exception applies as soon as it covers part of it, so denying "r" also denies an O_RDWR
        // open. runc's program tests coverage for denies too, which lets that open through.
        if (allow)
            block.push_back(jmp32_reg(BPF_JNE, kScratch, kAccess));
        else
            block.push_back(jmp32_imm(BPF_JEQ, kScratch, 0));
    }
    if (e.match.major) block.push_back(jmp32_imm(BPF_JNE, kMajor, *e.match.major));
    if (e.match.minor) block.push_back(jmp32_imm(BPF_JNE, kMinor, *e.match.minor));
    append_verdict(block, allow);

    const auto size = static_cast<int16_t>(block.size());
    for (int16_t i = 0; i < size; ++i)
        if (BPF_CLASS(block[i].code) == BPF_JMP32)
            block[i].off = static_cast<int16_t>(size - i - 1);
    p.insert(p.end(), block.begin(), block.end());
}

long bpf(int cmd, union bpf_attr& attr) {
    return ::syscall(SYS_bpf, cmd, &attr, sizeof(attr));
}

std::string last_lines(const std::string& log, size_t count) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < log.size()) {
        size_t end = log.find('\n', start);
        if (end == std::string::npos) end = log.size();
        if (end > start) lines.push_back(log.substr(start, end - start));
        start = end + 1;
    }
    std::string out;
    for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
        out += (out.empty() ? "" : "; ") + lines[i];
    return out;
}

Fd load_program(const std::vector<bpf_insn>& program) {
    static constexpr char license[] = "Apache";
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uintptr_t>(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = reinterpret_cast<uintptr_t>(license);
    // Shows in `bpftool cgroup tree`, so that an operator can tell whose program it is.
    std::strncpy(attr.prog_name, "kiln_devices", sizeof(attr.prog_name) - 1);

    long fd = bpf(BPF_PROG_LOAD, attr);
    int err = errno;
    if (fd < 0 && err == EPERM) {
        // Before Linux 5.11 programs were charged to RLIMIT_MEMLOCK, whose default is tiny.
        struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
        if (::setrlimit(RLIMIT_MEMLOCK, &unlimited) == 0) {
            fd = bpf(BPF_PROG_LOAD, attr);
            err = errno;
        }
    }
    if (fd >= 0) return Fd(static_cast<int>(fd));

    // Load again with the verifier's log only now: it costs time, and the first error is its
    // reason.
    std::string log(64 * 1024, '\0');
    attr.log_level = 1;
    attr.log_buf = reinterpret_cast<uintptr_t>(log.data());
    attr.log_size = static_cast<uint32_t>(log.size());
    fd = bpf(BPF_PROG_LOAD, attr);
    if (fd >= 0) return Fd(static_cast<int>(fd));
    log.resize(std::strlen(log.c_str()));
    std::string args = "BPF_PROG_LOAD BPF_PROG_TYPE_CGROUP_DEVICE, " +
                       std::to_string(program.size()) + " instructions";
    if (std::string tail = last_lines(log, 4); !tail.empty()) args += ", verifier: " + tail;
    throw_sys(err, "bpf", args);
}

// The ids of the device programs attached to this cgroup itself (not inherited from its parents).
std::vector<uint32_t> attached_program_ids(int cgroup_dirfd) {
    std::vector<uint32_t> ids(64);  // the kernel's limit per cgroup and attach type, for now
    for (int attempt = 0;; ++attempt) {
        union bpf_attr attr;
        std::memset(&attr, 0, sizeof(attr));
        attr.query.target_fd = static_cast<uint32_t>(cgroup_dirfd);
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = reinterpret_cast<uintptr_t>(ids.data());
        attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
        if (bpf(BPF_PROG_QUERY, attr) == 0) {
            ids.resize(attr.query.prog_cnt);
            return ids;
        }
        // ENOSPC reports the count needed; programs may be attached meanwhile, so try a few times.
        if (errno != ENOSPC || attempt == 5) throw_sys("bpf", "BPF_PROG_QUERY BPF_CGROUP_DEVICE");
        ids.resize(std::max<size_t>(attr.query.prog_cnt, ids.size()) * 2);
    }
}

// Opens the programs by id before the new one is attached, so that the new one is never among them.
std::vector<std::pair<uint32_t, Fd>> open_programs(const std::vector<uint32_t>& ids) {
    std::vector<std::pair<uint32_t, Fd>> programs;
    for (uint32_t id : ids) {
        union bpf_attr attr;
        std::memset(&attr, 0, sizeof(attr));
        attr.prog_id = id;
        long fd = bpf(BPF_PROG_GET_FD_BY_ID, attr);
        if (fd >= 0) {
            programs.emplace_back(id, Fd(static_cast<int>(fd)));
            continue;
        }
        // ENOENT: detached and freed since the query. EPERM/EACCES: an LSM keeps us from a program
        // someone else attached; as runc does, leave it, since an extra device program can only
        // deny more.
        if (errno == ENOENT || errno == EPERM || errno == EACCES) continue;
        throw_sys("bpf", "BPF_PROG_GET_FD_BY_ID " + std::to_string(id));
    }
    return programs;
}

}  // namespace

std::vector<struct bpf_insn> build_device_program(const std::vector<oci::DeviceRule>& rules) {
    DevicesEmulator emulator;
    for (size_t i = 0; i < rules.size(); ++i)
        emulator.apply(rules[i], "linux.resources.devices[" + std::to_string(i) + "]");

    // Every exception takes the same action, so their order does not change the verdict; the
    // latest rule is tested first only because it is the likeliest to be the specific one.
    std::vector<bpf_insn> program;
    append_prologue(program);
    const auto& exceptions = emulator.exceptions();
    for (auto it = exceptions.rbegin(); it != exceptions.rend(); ++it)
        append_exception(program, *it, !emulator.default_allow());
    append_verdict(program, emulator.default_allow());
    return program;
}

void attach_device_program(int cgroup_dirfd, const std::vector<struct bpf_insn>& program) {
    Fd prog = load_program(program);
    auto old_programs = open_programs(attached_program_ids(cgroup_dirfd));

    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.target_fd = static_cast<uint32_t>(cgroup_dirfd);
    attr.attach_bpf_fd = static_cast<uint32_t>(prog.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, attr) != 0)
        throw_sys("bpf", "BPF_PROG_ATTACH BPF_CGROUP_DEVICE BPF_F_ALLOW_MULTI");

    // A device is allowed only if every attached program allows it, so until the old programs are
    // gone the cgroup gets at most what both rule sets allow: the swap never opens a gap. For the
    // same reason a failed detach leaves the new program in place and only reports.
    for (const auto& [id, fd] : old_programs) {
        std::memset(&attr, 0, sizeof(attr));
        attr.target_fd = static_cast<uint32_t>(cgroup_dirfd);
        attr.attach_bpf_fd = static_cast<uint32_t>(fd.get());
        attr.attach_type = BPF_CGROUP_DEVICE;
        if (bpf(BPF_PROG_DETACH, attr) != 0 && errno != ENOENT)
            throw_sys("bpf", "BPF_PROG_DETACH BPF_CGROUP_DEVICE program " + std::to_string(id));
    }
}

}  // namespace kiln::cgroups
