// The real busybox image that scripts/build-busybox-image.sh makes with umoci and skopeo: a
// layout and an oci-archive written by other tools than kiln's own test builder.
#include <sys/stat.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "core/image/store.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::image {
namespace {

bool have_tool(const char* name) {
    return std::system((std::string("command -v ") + name + " >/dev/null 2>&1").c_str()) == 0;
}

TEST(BusyboxImageTest, ImportsTheLayoutAndTheArchive) {
    if (!have_tool("umoci") || !have_tool("skopeo") || ::access("/bin/busybox", X_OK) != 0)
        GTEST_SKIP() << "umoci, skopeo or /bin/busybox missing";
    kiln::testing::TempDir tmp;
    std::string out = tmp / "busybox";
    std::string cmd = "bash " KILN_SOURCE_DIR "/scripts/build-busybox-image.sh " + out + " >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

    Store store(tmp / "state");
    Image layout = store.import(out + "/oci", "kiln-busybox");
    Image archive = store.import(out + "/busybox.oci.tar", "localhost/kiln-busybox:latest");
    EXPECT_EQ(layout.digest, archive.digest);
    EXPECT_EQ(layout.config.cmd, std::vector<std::string>{"sh"});
    ASSERT_FALSE(layout.config.env.empty());
    EXPECT_EQ(layout.config.env[0].rfind("PATH=", 0), 0u);

    auto lowers = store.lower_dirs(archive);
    ASSERT_FALSE(lowers.empty());
    bool found = false;
    for (const auto& dir : lowers) {
        struct stat st;
        if (::lstat((dir + "/bin/busybox").c_str(), &st) == 0) {
            found = true;
            EXPECT_TRUE(S_ISREG(st.st_mode));
            EXPECT_TRUE(st.st_mode & S_IXUSR);
            struct stat sh;
            ASSERT_EQ(::lstat((dir + "/bin/sh").c_str(), &sh), 0);
            EXPECT_TRUE(S_ISLNK(sh.st_mode));
        }
    }
    EXPECT_TRUE(found) << "no lower dir has bin/busybox";

    std::string root = tmp / "rootfs";
    mount_rootfs(lowers, tmp / "upper", tmp / "work", root);
    EXPECT_TRUE(kiln::testing::exists(root + "/bin/busybox"));
    EXPECT_TRUE(kiln::testing::exists(root + "/etc/passwd"));
    unmount_rootfs(root);
}

}  // namespace
}  // namespace kiln::image
