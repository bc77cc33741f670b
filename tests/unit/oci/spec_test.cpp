// config.json parsing and validation.
#include "core/oci/spec.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"

namespace kiln::oci {
namespace {

using nlohmann::json;

json minimal() {
    return json::parse(R"({
        "ociVersion": "1.2.0",
        "process": {"user": {"uid": 0, "gid": 0}, "args": ["/bin/true"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
    })");
}

std::string error_of(const json& j) {
    try {
        validate_spec(spec_from_json(j));
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        return e.what();
    }
    return "";
}

TEST(SpecParse, ReadsFieldsWithSpecNames) {
    json j = minimal();
    j["process"]["user"]["additionalGids"] = {5, 6};
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 512}}};
    j["linux"]["resources"]["memory"]["limit"] = 33554432;
    j["linux"]["resources"]["cpu"]["quota"] = -1;
    j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    j["annotations"]["org.example"] = "x";
    Spec s = spec_from_json(j);
    EXPECT_EQ(s.oci_version, "1.2.0");
    ASSERT_TRUE(s.process);
    EXPECT_EQ(s.process->user.additional_gids, (std::vector<uint32_t>{5, 6}));
    ASSERT_EQ(s.process->rlimits.size(), 1u);
    EXPECT_EQ(s.process->rlimits[0].soft, 512u);
    EXPECT_EQ(s.linux->resources->memory->limit, 33554432);
    EXPECT_EQ(s.linux->resources->cpu->quota, -1);
    EXPECT_EQ(s.linux->uid_mappings[0].host_id, 100000u);
    EXPECT_EQ(s.annotations.at("org.example"), "x");
}

TEST(SpecParse, RoundTripsThroughJson) {
    json j = minimal();
    j["mounts"] = {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}};
    j["hostname"] = "box";
    Spec s = spec_from_json(j);
    Spec again = spec_from_json(to_json(s));
    EXPECT_EQ(to_json(again), to_json(s));
    EXPECT_EQ(to_json(s)["mounts"][0]["destination"], "/proc");
    EXPECT_FALSE(to_json(s)["process"].contains("terminal"));
}

TEST(SpecParse, WrongTypeNamesTheField) {
    json j = minimal();
    j["process"]["user"]["uid"] = "root";
    try {
        spec_from_json(j);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "process.user.uid: expected an unsigned integer, got a string");
    }
}

TEST(SpecParse, NegativeUnsignedAndOverflowAreRefused) {
    json j = minimal();
    j["process"]["user"]["gid"] = -1;
    EXPECT_THROW(spec_from_json(j), Error);
    j = minimal();
    j["process"]["oomScoreAdj"] = 1LL << 40;
    try {
        spec_from_json(j);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("process.oomScoreAdj"), std::string::npos);
    }
}

TEST(SpecParse, ArrayElementPathHasIndex) {
    json j = minimal();
    j["mounts"] = {{{"destination", "/a"}}, {{"destination", 5}}};
    try {
        spec_from_json(j);
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "mounts[1].destination: expected a string, got an integer");
    }
}

TEST(SpecParse, MissingRequiredField) {
    json j = minimal();
    j["process"].erase("cwd");
    try {
        spec_from_json(j);
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "process.cwd: is required");
    }
}

TEST(SpecParse, NullIsTreatedAsAbsent) {
    json j = minimal();
    j["process"]["capabilities"] = nullptr;
    EXPECT_FALSE(spec_from_json(j).process->capabilities);
}

TEST(SpecParse, MalformedJson) {
    try {
        parse_spec("{\"ociVersion\": ");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("malformed JSON"), std::string::npos);
    }
    EXPECT_THROW(parse_spec("[1,2]"), Error);
}

TEST(SpecParse, UnknownFieldsAreIgnored) {
    json j = minimal();
    j["process"]["somethingNew"] = {1, 2};
    j["vm"] = {{"hypervisor", {{"path", "/x"}}}};
    EXPECT_NO_THROW(validate_spec(spec_from_json(j)));
}

TEST(SpecValidate, AcceptsAnyOneDotX) {
    for (const char* v : {"1.0.0", "1.0.2-dev", "1.1.0+dev", "1.2.0", "1.3"}) {
        json j = minimal();
        j["ociVersion"] = v;
        EXPECT_EQ(error_of(j), "") << v;
    }
}

TEST(SpecValidate, RefusesOtherVersions) {
    for (const char* v : {"2.0.0", "0.9", "", "1", "v1.0.0"}) {
        json j = minimal();
        j["ociVersion"] = v;
        EXPECT_NE(error_of(j).find("ociVersion: unsupported version"), std::string::npos) << v;
    }
}

TEST(SpecValidate, UnknownCapabilityIsAnError) {
    json j = minimal();
    j["process"]["capabilities"]["bounding"] = {"CAP_CHOWN", "CAP_MAKE_COFFEE"};
    EXPECT_EQ(error_of(j), "process.capabilities.bounding[1]: unknown capability \"CAP_MAKE_COFFEE\"");
}

TEST(SpecValidate, NamespaceChecks) {
    json j = minimal();
    j["linux"]["namespaces"].push_back({{"type", "pid"}});
    EXPECT_EQ(error_of(j), "linux.namespaces[2].type: duplicate namespace \"pid\"");
    j = minimal();
    j["linux"]["namespaces"].push_back({{"type", "bogus"}});
    EXPECT_EQ(error_of(j), "linux.namespaces[2].type: unknown namespace type \"bogus\"");
    j = minimal();
    j["linux"]["namespaces"].push_back({{"type", "network"}, {"path", "relative/ns"}});
    EXPECT_EQ(error_of(j), "linux.namespaces[2].path: must be an absolute path");
}

TEST(SpecValidate, UserNamespaceNeedsMappings) {
    json j = minimal();
    j["linux"]["namespaces"].push_back({{"type", "user"}});
    EXPECT_NE(error_of(j).find("linux.uidMappings"), std::string::npos);
    j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    j["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
    EXPECT_EQ(error_of(j), "");
    j["linux"]["namespaces"].erase(2);
    EXPECT_NE(error_of(j).find("need a new user namespace"), std::string::npos);
}

TEST(SpecValidate, SysctlMustBeNamespaced) {
    json j = minimal();
    j["linux"]["sysctl"] = {{"kernel.panic", "1"}};
    EXPECT_EQ(error_of(j),
              "linux.sysctl.kernel.panic: is not a namespaced sysctl: setting it would change the host");
    j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
    EXPECT_EQ(error_of(j), "linux.sysctl.net.ipv4.ip_forward: requires a network namespace of the container's own");
    j["linux"]["namespaces"].push_back({{"type", "network"}});
    EXPECT_EQ(error_of(j), "");
    j["linux"]["sysctl"] = {{"kernel.shmmax", "1"}};
    EXPECT_NE(error_of(j).find("requires a ipc namespace"), std::string::npos);
}

TEST(SpecValidate, HostnameNeedsUts) {
    json j = minimal();
    j["hostname"] = "box";
    EXPECT_NE(error_of(j).find("hostname: setting the hostname requires a uts namespace"), std::string::npos);
}

TEST(SpecValidate, ProcessChecks) {
    json j = minimal();
    j["process"]["args"] = json::array();
    EXPECT_EQ(error_of(j), "process.args: is required and must not be empty");
    j = minimal();
    j["process"]["cwd"] = "relative";
    EXPECT_EQ(error_of(j), "process.cwd: must be an absolute path, got \"relative\"");
    j = minimal();
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOPE"}, {"hard", 1}, {"soft", 1}}};
    EXPECT_EQ(error_of(j), "process.rlimits[0].type: unknown rlimit \"RLIMIT_NOPE\"");
    j = minimal();
    j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"hard", 1}, {"soft", 2}}};
    EXPECT_EQ(error_of(j), "process.rlimits[0]: soft limit 2 exceeds hard limit 1");
    j = minimal();
    j["process"]["env"] = {"NOEQUALS"};
    EXPECT_EQ(error_of(j), "process.env[0]: expected KEY=VALUE, got \"NOEQUALS\"");
}

TEST(SpecValidate, DeviceAndPropagationChecks) {
    json j = minimal();
    j["linux"]["devices"] = {{{"type", "x"}, {"path", "/dev/x"}}};
    EXPECT_EQ(error_of(j), "linux.devices[0].type: expected one of c, b, u, p, got \"x\"");
    j = minimal();
    j["linux"]["rootfsPropagation"] = "sideways";
    EXPECT_EQ(error_of(j), "linux.rootfsPropagation: unknown propagation \"sideways\"");
    j = minimal();
    j["linux"]["resources"]["devices"] = {{{"allow", true}, {"access", "rwx"}}};
    EXPECT_EQ(error_of(j), "linux.resources.devices[0].access: expected a combination of r, w and m, got \"rwx\"");
}

TEST(SpecValidate, MissingRootAndProcess) {
    json j = minimal();
    j.erase("root");
    EXPECT_EQ(error_of(j), "root.path: is required");
    j = minimal();
    j.erase("process");
    EXPECT_EQ(error_of(j), "process: is required");
}

}  // namespace
}  // namespace kiln::oci
