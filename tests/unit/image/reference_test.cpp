// Image names: normalization of the tag and the grammar of names.
#include "core/image/reference.hpp"

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

}  // namespace
}  // namespace kiln::image
