// Image names: normalization of the tag and the grammar of names.
#include "core/image/reference.hpp"
#include "core/image/registry.hpp"

#include <gtest/gtest.h>

#include "core/sys/error.hpp"

namespace kiln::image {
namespace {

TEST(ReferenceTest, TagDefaultsToLatest) {
    EXPECT_EQ(parse_reference("busybox").str(), "busybox:latest");
    EXPECT_EQ(parse_reference("busybox:1.36").str(), "busybox:1.36");
    EXPECT_EQ(parse_reference("library/busybox").str(), "library/busybox:latest");
}

TEST(ReferenceTest, RegistryHostsMayCarryAPort) {
    Reference r = parse_reference("localhost:5000/team/app");
    EXPECT_EQ(r.name, "localhost:5000/team/app");
    EXPECT_EQ(r.tag, "latest");
    EXPECT_EQ(parse_reference("registry.example.com/app:v1.2-rc_3").tag, "v1.2-rc_3");
    EXPECT_EQ(parse_reference("Registry.Example.com/app").name, "Registry.Example.com/app");
}

TEST(ReferenceTest, BadNamesAreRefusedByName) {
    for (const char* bad : {"", "UPPER", "app:", ":tag", "a//b", "app:bad/tag", "-app", "app-", "app@sha256:00",
                            "app:.tag", "a..b", "host:port/app"}) {
        try {
            parse_reference(bad);
            ADD_FAILURE() << "accepted \"" << bad << "\"";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid_argument);
            EXPECT_NE(std::string(e.what()).find(std::string("\"") + bad + "\""), std::string::npos) << e.what();
        }
    }
}

TEST(PullReferenceTest, RegistryRepositoryTagAndDigest) {
    PullReference r = parse_pull_reference("127.0.0.1:5000/team/app:v1");
    EXPECT_EQ(r.registry, "127.0.0.1:5000");
    EXPECT_EQ(r.repository, "team/app");
    EXPECT_EQ(r.tag, "v1");
    EXPECT_EQ(r.digest, "");
    EXPECT_EQ(r.record_name(), "127.0.0.1:5000/team/app:v1");

    std::string digest = "sha256:" + std::string(64, 'a');
    r = parse_pull_reference("localhost/app@" + digest);
    EXPECT_EQ(r.registry, "localhost");
    EXPECT_EQ(r.tag, "") << "a digest alone has no tag";
    EXPECT_EQ(r.record_name(), "localhost/app@" + digest);
    r = parse_pull_reference("localhost/app:v2@" + digest);
    EXPECT_EQ(r.tag, "v2");
    EXPECT_EQ(r.digest, digest);
    EXPECT_EQ(r.str(), "localhost/app:v2@" + digest);
}

TEST(PullReferenceTest, NamesWithoutARegistryAreDockerHubs) {
    PullReference r = parse_pull_reference("busybox");
    EXPECT_EQ(r.registry, "docker.io");
    EXPECT_EQ(r.repository, "library/busybox");
    EXPECT_EQ(r.tag, "latest");
    EXPECT_EQ(parse_pull_reference("team/app").repository, "team/app");
}

TEST(PullReferenceTest, BadReferencesAreRefusedByName) {
    for (const char* bad : {"", "app@sha256:00", "app@md5:" , "UPPER/x", "host:99999999/x", "app:bad tag"}) {
        try {
            parse_pull_reference(bad);
            ADD_FAILURE() << "accepted \"" << bad << "\"";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
        }
    }
}

}  // namespace
}  // namespace kiln::image
