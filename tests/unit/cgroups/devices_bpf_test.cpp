// The device program generator without a kernel: the program's shape, and its verdicts as run by a
// small interpreter of the few eBPF instructions the generator may emit.
#include "core/cgroups/controllers/devices_bpf.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/sys/error.hpp"

namespace kiln::cgroups {
namespace {

using Program = std::vector<bpf_insn>;

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
oci::DeviceRule deny_all() {
    return rule(false, "a", std::nullopt, std::nullopt, "rwm");
}
oci::DeviceRule allow_all() {
    return rule(true, "a", std::nullopt, std::nullopt, "rwm");
}
oci::DeviceRule allow_char(std::optional<int64_t> major, std::optional<int64_t> minor,
                           std::string access) {
    return rule(true, "c", major, minor, std::move(access));
}
oci::DeviceRule deny_char(std::optional<int64_t> major, std::optional<int64_t> minor,
                          std::string access) {
    return rule(false, "c", major, minor, std::move(access));
}

// Runs `p` as the kernel would for one device access; fails the test on any instruction the
// generator is not expected to emit, or on a jump out of the program.
std::optional<uint32_t> run(const Program& p, uint32_t type, uint32_t access, uint32_t major,
                            uint32_t minor) {
    const bpf_cgroup_dev_ctx ctx{(access << 16) | type, major, minor};
    uint64_t reg[MAX_BPF_REG] = {};
    bool r1_is_ctx = true;
    for (size_t pc = 0, steps = 0; pc < p.size() && steps < 10000; ++pc, ++steps) {
        const bpf_insn& i = p[pc];
        const uint8_t cls = BPF_CLASS(i.code);
        if (cls == BPF_LDX && BPF_MODE(i.code) == BPF_MEM && BPF_SIZE(i.code) == BPF_W) {
            if (i.src_reg != BPF_REG_1 || !r1_is_ctx || i.off < 0 || i.off > 8 || i.off % 4) {
                ADD_FAILURE() << "bad context load at " << pc;
                return std::nullopt;
            }
            reg[i.dst_reg] = reinterpret_cast<const uint32_t*>(&ctx)[i.off / 4];
        } else if (cls == BPF_ALU) {
            const uint32_t src = BPF_SRC(i.code) == BPF_X ? static_cast<uint32_t>(reg[i.src_reg])
                                                          : static_cast<uint32_t>(i.imm);
            uint32_t dst = static_cast<uint32_t>(reg[i.dst_reg]);
            switch (BPF_OP(i.code)) {
                case BPF_MOV:
                    dst = src;
                    break;
                case BPF_AND:
                    dst &= src;
                    break;
                case BPF_RSH:
                    dst >>= src;
                    break;
                default:
                    ADD_FAILURE() << "unexpected ALU op at " << pc;
                    return std::nullopt;
            }
            reg[i.dst_reg] = dst;
        } else if (cls == BPF_JMP32) {
            const uint32_t dst = static_cast<uint32_t>(reg[i.dst_reg]);
            const uint32_t src = BPF_SRC(i.code) == BPF_X ? static_cast<uint32_t>(reg[i.src_reg])
                                                          : static_cast<uint32_t>(i.imm);
            bool taken = false;
            switch (BPF_OP(i.code)) {
                case BPF_JNE:
                    taken = dst != src;
                    break;
                case BPF_JEQ:
                    taken = dst == src;
                    break;
                default:
                    ADD_FAILURE() << "unexpected JMP32 op at " << pc;
                    return std::nullopt;
            }
            if (i.off < 0 || pc + i.off + 1 >= p.size()) {
                ADD_FAILURE() << "jump out of the program at " << pc;
                return std::nullopt;
            }
            if (taken) pc += i.off;
        } else if (i.code == (BPF_JMP | BPF_EXIT)) {
            return static_cast<uint32_t>(reg[BPF_REG_0]);
        } else {
            ADD_FAILURE() << "unexpected instruction code " << int(i.code) << " at " << pc;
            return std::nullopt;
        }
        if (i.dst_reg == BPF_REG_1 && cls != BPF_JMP32) r1_is_ctx = false;
    }
    ADD_FAILURE() << "the program ran off its end";
    return std::nullopt;
}

constexpr uint32_t kChar = BPF_DEVCG_DEV_CHAR, kBlock = BPF_DEVCG_DEV_BLOCK;
constexpr uint32_t kRead = BPF_DEVCG_ACC_READ, kWrite = BPF_DEVCG_ACC_WRITE,
                   kMknod = BPF_DEVCG_ACC_MKNOD;

// "allowed" or "denied", so that a failure reads as the verdict.
std::string verdict(const Program& p, uint32_t type, uint32_t access, uint32_t major,
                    uint32_t minor) {
    auto r0 = run(p, type, access, major, minor);
    if (!r0) return "error";
    return *r0 == 1 ? "allowed" : *r0 == 0 ? "denied" : "r0=" + std::to_string(*r0);
}

// The action of the final block, which every device no rule matched falls through to.
std::optional<int32_t> default_verdict(const Program& p) {
    if (p.size() < 2 || p.back().code != (BPF_JMP | BPF_EXIT)) return std::nullopt;
    const bpf_insn& mov = p[p.size() - 2];
    if (mov.code != (BPF_ALU | BPF_MOV | BPF_K) || mov.dst_reg != BPF_REG_0) return std::nullopt;
    return mov.imm;
}

TEST(DevicesBpfProgram, EndsWithTheDefaultVerdictAndExit) {
    EXPECT_EQ(default_verdict(build_device_program({})), 0);
    EXPECT_EQ(default_verdict(build_device_program({deny_all(), allow_char(1, 3, "rwm")})), 0);
    EXPECT_EQ(default_verdict(build_device_program({allow_all()})), 1);
    EXPECT_EQ(default_verdict(build_device_program({allow_all(), deny_char(1, 3, "rwm")})), 1);
}

TEST(DevicesBpfProgram, GrowsWithTheRules) {
    const Program none = build_device_program({deny_all()});
    const Program one = build_device_program({deny_all(), allow_char(1, 3, "rwm")});
    const Program two =
        build_device_program({deny_all(), allow_char(1, 3, "rwm"), allow_char(1, 5, "r")});
    EXPECT_LT(none.size(), one.size());
    EXPECT_LT(one.size(), two.size());
    // A rule with access rwm needs no access test; "r" needs three more instructions.
    EXPECT_EQ(two.size() - one.size(), one.size() - none.size() + 3);
}

TEST(DevicesBpfProgram, EveryJumpLandsInsideTheProgram) {
    const Program p = build_device_program({deny_all(), allow_char(std::nullopt, std::nullopt, "m"),
                                            rule(true, "b", 8, std::nullopt, "rw"),
                                            allow_char(136, std::nullopt, "rwm")});
    for (size_t pc = 0; pc < p.size(); ++pc) {
        if (BPF_CLASS(p[pc].code) != BPF_JMP32) continue;
        EXPECT_GE(p[pc].off, 0) << "at " << pc;
        EXPECT_LT(pc + p[pc].off + 1, p.size()) << "at " << pc;
    }
}

TEST(DevicesBpfProgram, NoRulesDenyEveryDevice) {
    const Program p = build_device_program({});
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 3), "denied");
    EXPECT_EQ(verdict(p, kBlock, kMknod, 8, 0), "denied");
}

TEST(DevicesBpfProgram, AllowListLikeDockersDefault) {
    const Program p = build_device_program({
        deny_all(),
        allow_char(std::nullopt, std::nullopt, "m"),
        rule(true, "b", std::nullopt, std::nullopt, "m"),
        allow_char(1, 3, "rwm"),
        allow_char(1, 5, "rwm"),
        allow_char(136, std::nullopt, "rwm"),
    });
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 1, 3), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 5), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 136, 42), "allowed");
    EXPECT_EQ(verdict(p, kChar, kMknod, 10, 200), "allowed");
    EXPECT_EQ(verdict(p, kBlock, kMknod, 8, 0), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 7), "denied");
    EXPECT_EQ(verdict(p, kChar, kRead | kMknod, 10, 200), "denied");
    EXPECT_EQ(verdict(p, kBlock, kRead, 8, 0), "denied");
    // Type matters: 1:3 is allowed as a char device only.
    EXPECT_EQ(verdict(p, kBlock, kRead, 1, 3), "denied");
}

TEST(DevicesBpfProgram, AccessMustBeCoveredByOneAllowRule) {
    const Program p = build_device_program({deny_all(), allow_char(1, 3, "r")});
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 3), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 1, 3), "denied");
    EXPECT_EQ(verdict(p, kChar, kWrite, 1, 3), "denied");
}

TEST(DevicesBpfProgram, AllowRulesForTheSameDeviceMerge) {
    // v1 merges the two exceptions into "c 1:3 rw", so an O_RDWR open is allowed.
    const Program p =
        build_device_program({deny_all(), allow_char(1, 3, "r"), allow_char(1, 3, "w")});
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 1, 3), "allowed");
    EXPECT_EQ(verdict(p, kChar, kMknod, 1, 3), "denied");
}

TEST(DevicesBpfProgram, LaterDenyNarrowsAnEarlierAllow) {
    const Program p =
        build_device_program({deny_all(), allow_char(1, 3, "rwm"), deny_char(1, 3, "w")});
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 3), "allowed");
    EXPECT_EQ(verdict(p, kChar, kWrite, 1, 3), "denied");
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 1, 3), "denied");
}

TEST(DevicesBpfProgram, DenyListDeniesAnyRequestTouchingADeniedAccess) {
    const Program p = build_device_program({allow_all(), deny_char(1, 3, "r")});
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 3), "denied");
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 1, 3), "denied");
    EXPECT_EQ(verdict(p, kChar, kWrite, 1, 3), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 5), "allowed");
    EXPECT_EQ(verdict(p, kBlock, kRead, 1, 3), "allowed");
}

TEST(DevicesBpfProgram, LaterAllowNarrowsAnEarlierDeny) {
    const Program p =
        build_device_program({allow_all(), deny_char(1, 3, "rwm"), allow_char(1, 3, "r")});
    EXPECT_EQ(verdict(p, kChar, kRead, 1, 3), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite, 1, 3), "denied");
}

TEST(DevicesBpfProgram, AnARuleResetsEverythingBeforeIt) {
    const Program allowed = build_device_program({deny_all(), deny_char(1, 3, "rwm"), allow_all()});
    EXPECT_EQ(allowed.size(), build_device_program({allow_all()}).size());
    EXPECT_EQ(verdict(allowed, kChar, kRead, 1, 3), "allowed");

    const Program denied = build_device_program({allow_char(1, 3, "rwm"), deny_all()});
    EXPECT_EQ(verdict(denied, kChar, kRead, 1, 3), "denied");

    // As in the kernel, an "a" rule is a reset whatever numbers and access it names; an empty
    // type is "a".
    const Program reset = build_device_program({allow_all(), rule(false, "", 1, 3, "r")});
    EXPECT_EQ(verdict(reset, kChar, kWrite, 4, 1), "denied");
}

TEST(DevicesBpfProgram, MissingAccessMeansRwmAndMissingNumbersMeanAny) {
    const Program p =
        build_device_program({deny_all(), allow_char(1, std::nullopt, ""),
                              rule(true, "b", std::nullopt, 0, "r"), allow_char(-1, 9, "rwm")});
    EXPECT_EQ(verdict(p, kChar, kRead | kWrite | kMknod, 1, 12345), "allowed");
    EXPECT_EQ(verdict(p, kBlock, kRead, 8, 0), "allowed");
    EXPECT_EQ(verdict(p, kBlock, kRead, 8, 1), "denied");
    EXPECT_EQ(verdict(p, kChar, kRead, 77, 9), "allowed");
}

TEST(DevicesBpfProgram, NumbersAboveInt32MaxStillMatch) {
    const Program p = build_device_program({deny_all(), allow_char(4000000000, 4294967295, "rwm")});
    EXPECT_EQ(verdict(p, kChar, kRead, 4000000000u, 4294967295u), "allowed");
    EXPECT_EQ(verdict(p, kChar, kRead, 4000000000u, 0), "denied");
}

Errc error_of(const std::vector<oci::DeviceRule>& rules, std::string* message = nullptr) {
    try {
        build_device_program(rules);
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "build_device_program accepted the rules";
    return Errc::internal;
}

TEST(DevicesBpfProgram, RefusesToPunchAHoleInAWildcardRule) {
    std::string message;
    EXPECT_EQ(
        error_of({deny_all(), allow_char(std::nullopt, std::nullopt, "rwm"), deny_char(1, 3, "w")},
                 &message),
        Errc::invalid_argument);
    EXPECT_NE(message.find("linux.resources.devices[2]"), std::string::npos) << message;
    EXPECT_NE(message.find("c *:* rwm"), std::string::npos) << message;
    EXPECT_EQ(error_of({allow_all(), deny_char(1, std::nullopt, "rw"), allow_char(1, 3, "r")}),
              Errc::invalid_argument);
    // No overlap in access, no hole: fine.
    EXPECT_NO_THROW(build_device_program(
        {deny_all(), allow_char(std::nullopt, std::nullopt, "m"), deny_char(1, 3, "w")}));
}

TEST(DevicesBpfProgram, RejectsWhatV1CannotExpress) {
    EXPECT_EQ(error_of({rule(true, "u", 1, 3, "rwm")}), Errc::invalid_argument);
    EXPECT_EQ(error_of({allow_char(1, 3, "rx")}), Errc::invalid_argument);
    EXPECT_EQ(error_of({allow_char(int64_t{1} << 32, 3, "r")}), Errc::invalid_argument);
    EXPECT_EQ(error_of({allow_char(1, -2, "r")}), Errc::invalid_argument);
}

}  // namespace
}  // namespace kiln::cgroups
