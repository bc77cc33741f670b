// /proc/<pid>/mountinfo parsing: fields, optional fields, octal escapes, malformed lines.
#include "core/sys/mountinfo.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/sys/error.hpp"

namespace kiln {
namespace {

TEST(Mountinfo, ParsesEveryFieldOfALineWithOneOptionalField) {
    auto m = parse_mountinfo("25 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].id, 25);
    EXPECT_EQ(m[0].parent, 1);
    EXPECT_EQ(m[0].root, "/");
    EXPECT_EQ(m[0].mount_point, "/");
    EXPECT_EQ(m[0].options, "rw,relatime");
    EXPECT_EQ(m[0].optional, "shared:1");
    EXPECT_EQ(m[0].fstype, "ext4");
    EXPECT_EQ(m[0].source, "/dev/sda1");
    EXPECT_EQ(m[0].super_options, "rw,errors=remount-ro");
}

TEST(Mountinfo, LineWithoutOptionalFieldsHasEmptyOptional) {
    auto m = parse_mountinfo("36 25 0:32 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
                             "rw,nsdelegate,memory_recursiveprot\n");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].optional, "");
    EXPECT_EQ(m[0].fstype, "cgroup2");
    EXPECT_EQ(m[0].source, "cgroup2");
    EXPECT_EQ(m[0].super_options, "rw,nsdelegate,memory_recursiveprot");
}

TEST(Mountinfo, SeveralOptionalFieldsAreKeptInOrder) {
    auto m = parse_mountinfo(
        "40 30 0:35 /data /mnt/data rw,relatime shared:5 master:3 propagate_from:2 - xfs /dev/vdb rw\n");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].optional, "shared:5 master:3 propagate_from:2");
    EXPECT_EQ(m[0].root, "/data");
    EXPECT_EQ(m[0].mount_point, "/mnt/data");
    EXPECT_EQ(m[0].fstype, "xfs");
    EXPECT_EQ(m[0].source, "/dev/vdb");
}

TEST(Mountinfo, ParsesSeveralLinesAndSkipsBlankOnes) {
    std::string text =
        "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
        "\n"
        "23 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
        "30 23 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup "
        "rw,memory";  // no newline at the end
    auto m = parse_mountinfo(text);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].mount_point, "/proc");
    EXPECT_EQ(m[1].mount_point, "/sys");
    EXPECT_EQ(m[2].parent, 23);
    EXPECT_EQ(m[2].mount_point, "/sys/fs/cgroup/memory");
    EXPECT_EQ(m[2].super_options, "rw,memory");
}

TEST(Mountinfo, EmptyTextHasNoMounts) {
    EXPECT_TRUE(parse_mountinfo("").empty());
    EXPECT_TRUE(parse_mountinfo("\n\n").empty());
}

TEST(Mountinfo, UnescapesSpaceInMountPointRootAndSource) {
    auto m = parse_mountinfo(
        "50 25 0:40 /my\\040data /mnt/my\\040disk rw - fuse.sshfs user@host:/a\\040b rw,user_id=0\n");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].root, "/my data");
    EXPECT_EQ(m[0].mount_point, "/mnt/my disk");
    EXPECT_EQ(m[0].source, "user@host:/a b");
    EXPECT_EQ(m[0].fstype, "fuse.sshfs");
}

TEST(Mountinfo, UnescapesTabNewlineAndBackslash) {
    auto m = parse_mountinfo("51 25 0:41 / /mnt/a\\011b\\012c\\134d rw - tmpfs tmp\\134fs rw\n");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].mount_point, "/mnt/a\tb\nc\\d");
    EXPECT_EQ(m[0].source, "tmp\\fs");
}

TEST(Mountinfo, UnescapeLeavesNonOctalSequencesAlone) {
    EXPECT_EQ(unescape_mount_field("a\\040"), "a ");           // escape at the very end
    EXPECT_EQ(unescape_mount_field("\\040"), " ");
    EXPECT_EQ(unescape_mount_field("a\\04"), "a\\04");         // too short
    EXPECT_EQ(unescape_mount_field("a\\089b"), "a\\089b");     // 8 and 9 are not octal
    EXPECT_EQ(unescape_mount_field("a\\x20b"), "a\\x20b");
    EXPECT_EQ(unescape_mount_field("plain"), "plain");
}

TEST(Mountinfo, OptionsAreNotUnescaped) {
    // Only root, mount point and source carry escapes in practice; options are kept verbatim.
    auto m = parse_mountinfo("52 25 0:42 / /x rw - tmpfs tmpfs rw,size=1k\n");
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].options, "rw");
}

TEST(Mountinfo, MissingSeparatorIsAnError) {
    EXPECT_THROW(parse_mountinfo("25 1 8:1 / / rw,relatime shared:1 ext4 /dev/sda1 rw\n"), Error);
}

TEST(Mountinfo, TooFewFieldsAfterSeparatorIsAnError) {
    try {
        parse_mountinfo("25 1 8:1 / / rw shared:1 - ext4\n");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("malformed mountinfo line"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("25 1 8:1"), std::string::npos) << e.what();
    }
}

TEST(Mountinfo, TruncatedLineIsAnError) {
    EXPECT_THROW(parse_mountinfo("25 1 8:1 /\n"), Error);
}

TEST(Mountinfo, OneBadLineAmongGoodOnesIsAnError) {
    EXPECT_THROW(parse_mountinfo("22 1 0:21 / /proc rw - proc proc rw\ngarbage\n"), Error);
}

TEST(Mountinfo, NonNumericMountIdIsAKilnError) {
    // Callers catch kiln::Error; a std::invalid_argument from std::stoi would escape them.
    EXPECT_THROW(parse_mountinfo("abc 1 8:1 / / rw - ext4 /dev/sda1 rw\n"), Error);
    EXPECT_THROW(parse_mountinfo("25 x 8:1 / / rw - ext4 /dev/sda1 rw\n"), Error);
}

TEST(Mountinfo, ReadMountinfoOfMissingFileThrows) {
    EXPECT_THROW(read_mountinfo("/nonexistent/kiln/mountinfo"), Error);
}

TEST(Mountinfo, ReadsOwnMountinfo) {
    // Every process has a root mount.
    auto m = read_mountinfo();
    ASSERT_FALSE(m.empty());
    bool has_root = false;
    for (const auto& e : m) has_root = has_root || e.mount_point == "/";
    EXPECT_TRUE(has_root);
}

}  // namespace
}  // namespace kiln
