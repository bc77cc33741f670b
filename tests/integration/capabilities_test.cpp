// Capabilities: all five sets as /proc/self/status shows them, for root and for another user,
// and unknown names refused.
#include <cstdint>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

std::map<std::string, uint64_t> caps_of(const std::string& status) {
    std::map<std::string, uint64_t> out;
    std::istringstream in(status);
    std::string key, value;
    while (in >> key >> value) out[key] = std::stoull(value, nullptr, 16);
    return out;
}

constexpr uint64_t bit(int n) { return 1ULL << n; }
constexpr int CAP_CHOWN = 0, CAP_KILL = 5, CAP_NET_BIND_SERVICE = 10, CAP_NET_RAW = 13, CAP_SYS_ADMIN = 21;

TEST(Capabilities, FiveSetsAsConfigured) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"grep", "^Cap", "/proc/self/status"});
    b.config["process"]["capabilities"] = {
        {"bounding", {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}},
        {"permitted", {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
        {"effective", {"CAP_CHOWN", "CAP_KILL"}},
        {"inheritable", {"CAP_KILL", "CAP_NET_BIND_SERVICE"}},
        {"ambient", {"CAP_NET_BIND_SERVICE"}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    // grep runs after execve: with ambient caps the permitted and effective sets of a non-setuid
    // program are recomputed as P' = ambient (+ file caps), E' = P'.
    auto caps = caps_of(r.out);
    EXPECT_EQ(caps["CapBnd:"], bit(CAP_CHOWN) | bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE) | bit(CAP_NET_RAW));
    EXPECT_EQ(caps["CapInh:"], bit(CAP_KILL) | bit(CAP_NET_BIND_SERVICE));
    EXPECT_EQ(caps["CapAmb:"], bit(CAP_NET_BIND_SERVICE));
    expect_no_leftovers(k, id);
}

TEST(Capabilities, RootKeepsExactlyItsSets) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"grep", "^Cap", "/proc/self/status"});
    b.config["process"]["capabilities"] = {
        {"bounding", {"CAP_CHOWN", "CAP_SYS_ADMIN"}},
        {"permitted", {"CAP_CHOWN", "CAP_SYS_ADMIN"}},
        {"effective", {"CAP_CHOWN"}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    auto caps = caps_of(r.out);
    // uid 0 gains its permitted set as effective at execve (no file caps: the legacy root rule
    // gives P' = bounding-limited full set).
    EXPECT_EQ(caps["CapBnd:"], bit(CAP_CHOWN) | bit(CAP_SYS_ADMIN));
    EXPECT_EQ(caps["CapPrm:"], bit(CAP_CHOWN) | bit(CAP_SYS_ADMIN));
    EXPECT_EQ(caps["CapInh:"], 0u);
    expect_no_leftovers(k, id);
}

TEST(Capabilities, NonRootUserWithAmbientCapability) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"grep", "^Cap", "/proc/self/status"});
    b.config["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    b.config["process"]["capabilities"] = {
        {"bounding", {"CAP_NET_RAW", "CAP_KILL"}},
        {"permitted", {"CAP_NET_RAW", "CAP_KILL"}},
        {"effective", {"CAP_NET_RAW", "CAP_KILL"}},
        {"inheritable", {"CAP_NET_RAW"}},
        {"ambient", {"CAP_NET_RAW"}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    auto caps = caps_of(r.out);
    EXPECT_EQ(caps["CapPrm:"], bit(CAP_NET_RAW)) << "a non-root program keeps only the ambient set";
    EXPECT_EQ(caps["CapEff:"], bit(CAP_NET_RAW));
    EXPECT_EQ(caps["CapAmb:"], bit(CAP_NET_RAW));
    EXPECT_EQ(caps["CapBnd:"], bit(CAP_NET_RAW) | bit(CAP_KILL));
    expect_no_leftovers(k, id);
}

TEST(Capabilities, UnknownNameIsAnError) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    b.config["process"]["capabilities"]["effective"] = {"CAP_CHOWN", "CAP_WIZARDRY"};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("process.capabilities.effective[1]: unknown capability \"CAP_WIZARDRY\""), std::string::npos)
        << r.err;
    expect_no_leftovers(k, id);
}

TEST(Capabilities, DroppedCapabilityIsEnforced) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // Without CAP_CHOWN, root cannot give a file away.
    Bundle b({"sh", "-c", "touch /tmp/f && chown 1000 /tmp/f 2>&1; echo rc=$?"}, true);
    b.config["process"]["capabilities"] = {{"bounding", {"CAP_KILL"}}, {"permitted", {"CAP_KILL"}}, {"effective", {"CAP_KILL"}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rc=1"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
