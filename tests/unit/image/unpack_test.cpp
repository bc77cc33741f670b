// Layer unpacking: what is kept (modes, owners, times, xattrs, links, devices), how whiteouts are
// converted, and that hostile entries are refused by name without a byte written outside.
#include "core/image/unpack.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sched.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>

#include <gtest/gtest.h>

#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "tests/unit/image/image_builder.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::image {
namespace {

using kiln::testing::TempDir;
using namespace kiln::image::testing;

constexpr const char* kLayer = "layer sha256:test";

class UnpackTest : public ::testing::Test {
protected:
    UnpackTest() { ::mkdir(dest().c_str(), 0755); }

    std::string dest() const { return tmp_ / "dest"; }
    std::string at(const std::string& rel) const { return dest() + "/" + rel; }

    // Unpacks `entries` as a layer compressed with `c`; returns the diff id.
    std::string unpack(const std::vector<Entry>& entries, Compression c = Compression::none) {
        return unpack_blob(compress(make_tar(entries), c), c);
    }

    std::string unpack_blob(const std::string& blob, Compression c) {
        std::string path = tmp_ / "blob";
        Layout::write(path, blob);
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        Fd root(::open(dest().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        return unpack_layer(fd.get(), root.get(), c, kLayer);
    }

    // The error message of a refused layer, checked to be invalid_argument.
    std::string refusal(const std::vector<Entry>& entries) {
        try {
            unpack(entries);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
            return e.what();
        }
        ADD_FAILURE() << "layer was not refused";
        return "";
    }

    static struct stat lstat_of(const std::string& path) {
        struct stat st{};
        EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
        return st;
    }

    TempDir tmp_;
};

TEST_F(UnpackTest, FilesDirectoriesAndSymlinksKeepTheirMetadata) {
    Entry exe = file("bin/tool", "#!/bin/sh\n", 04755);
    exe.uid = 1000;
    exe.gid = 1001;
    exe.mtime = 1600000000;
    exe.xattrs["user.kiln"] = "value";
    Entry secret = dir("secret", 0700);
    secret.uid = 5;
    secret.gid = 6;
    secret.mtime = 1500000000;
    Entry link = symlink("bin/sh", "/bin/busybox");
    link.uid = 7;
    link.gid = 8;
    link.mtime = 1400000000;
    std::string diff_id = unpack({dir("bin"), exe, secret, file("secret/key", "k", 0600), link});

    EXPECT_EQ(diff_id, sha256_of(make_tar({dir("bin"), exe, secret, file("secret/key", "k", 0600), link})));
    struct stat st = lstat_of(at("bin/tool"));
    EXPECT_EQ(st.st_mode & 07777, 04755u);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1001u);
    EXPECT_EQ(st.st_mtime, 1600000000);
    EXPECT_EQ(kiln::testing::slurp(at("bin/tool")), "#!/bin/sh\n");
    char value[16] = {};
    EXPECT_EQ(::getxattr(at("bin/tool").c_str(), "user.kiln", value, sizeof value), 5);
    EXPECT_STREQ(value, "value");

    st = lstat_of(at("secret"));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_EQ(st.st_uid, 5u);
    EXPECT_EQ(st.st_gid, 6u);
    // Set after "secret/key" was created inside it.
    EXPECT_EQ(st.st_mtime, 1500000000);

    st = lstat_of(at("bin/sh"));
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_uid, 7u);
    EXPECT_EQ(st.st_gid, 8u);
    EXPECT_EQ(st.st_mtime, 1400000000);
    char target[64] = {};
    EXPECT_EQ(::readlink(at("bin/sh").c_str(), target, sizeof target - 1), 12);
    EXPECT_STREQ(target, "/bin/busybox");
}

TEST_F(UnpackTest, GzipAndZstdLayersGiveTheDiffIdOfTheTar) {
    std::vector<Entry> entries = {file("a", "hello")};
    std::string tar_digest = sha256_of(make_tar(entries));
    EXPECT_EQ(unpack(entries, Compression::gzip), tar_digest);
    EXPECT_EQ(kiln::testing::slurp(at("a")), "hello");
    EXPECT_EQ(unpack(entries, Compression::zstd), tar_digest);
}

TEST_F(UnpackTest, CompressionMustMatchTheMediaType) {
    std::string blob = compress(make_tar({file("a")}), Compression::zstd);
    try {
        unpack_blob(blob, Compression::gzip);
        FAIL() << "zstd blob accepted as gzip";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("zstd"), std::string::npos) << e.what();
    }
}

TEST_F(UnpackTest, TruncatedGzipIsRefused) {
    std::string blob = compress(make_tar({file("big", std::string(200000, 'x')), file("after", "y")}),
                                Compression::gzip);
    blob.resize(blob.size() / 2);
    try {
        unpack_blob(blob, Compression::gzip);
        FAIL() << "truncated layer accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
        EXPECT_NE(std::string(e.what()).find(kLayer), std::string::npos) << e.what();
    }
}

// A compressed layer damaged in the middle, or cut short, is refused by name, for both gzip and
// zstd, whatever it managed to write before.
TEST_F(UnpackTest, CorruptAndTruncatedGzipAndZstdAreRefused) {
    std::string tar = make_tar({file("big", std::string(300000, 'x') + "tail"), file("after", "y")});
    for (Compression c : {Compression::gzip, Compression::zstd}) {
        std::string good = compress(tar, c);
        std::string corrupt = good;
        for (std::size_t i = good.size() / 3; i < good.size() / 3 + 16 && i < good.size(); ++i) corrupt[i] ^= 0x5a;
        std::string truncated = good.substr(0, good.size() - 20);
        for (const std::string* blob : {&corrupt, &truncated}) {
            SCOPED_TRACE(std::string(compression_name(c)) + (blob == &corrupt ? " corrupt" : " truncated"));
            try {
                unpack_blob(*blob, c);
                ADD_FAILURE() << "damaged layer accepted";
            } catch (const Error& e) {
                EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
                EXPECT_NE(std::string(e.what()).find(kLayer), std::string::npos) << e.what();
            }
        }
    }
}

// Header fields far beyond what a file system takes: a name longer than PATH_MAX, an xattr value
// larger than the kernel allows, and a size field promising 8 GiB that the stream never holds.
TEST_F(UnpackTest, HugeHeaderFieldsAreRefusedByName) {
    std::string msg = refusal({file(std::string(5000, 'n'), "x")});
    EXPECT_NE(msg.find(kLayer), std::string::npos) << msg;

    Entry big_xattr = file("x", "data");
    big_xattr.xattrs["user.huge"] = std::string(200000, 'v');
    msg = refusal({big_xattr});
    EXPECT_NE(msg.find("x"), std::string::npos) << msg;

    // A ustar header by hand: name "claims", size 77777777777 octal (8 GiB), then end of stream.
    std::string header(512, '\0');
    auto put = [&](std::size_t off, const std::string& v) { header.replace(off, v.size(), v); };
    put(0, "claims");
    put(100, "0000644");
    put(108, "0000000");
    put(116, "0000000");
    put(124, "77777777777");
    put(136, "00000000000");
    put(156, "0");
    put(257, "ustar");
    put(263, "00");
    put(148, "        ");
    unsigned sum = 0;
    for (unsigned char ch : header) sum += ch;
    char chk[8];
    std::snprintf(chk, sizeof chk, "%06o", sum);
    put(148, std::string(chk, 6) + std::string("\0 ", 2));
    try {
        unpack_blob(header + std::string(1024, 'z'), Compression::none);
        FAIL() << "a layer shorter than its header says was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument) << e.what();
        EXPECT_NE(std::string(e.what()).find(kLayer), std::string::npos) << e.what();
    }
}

// Inside a user namespace device nodes are skipped (they could not be made, and a runtime gives
// /dev its own); the rest of the layer is unpacked.
TEST_F(UnpackTest, DevicesAreSkippedInsideAUserNamespace) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to map itself into a user namespace";
    Entry null{"dev/null", 'c', "", 0666};
    null.major = 1;
    null.minor = 3;
    std::string path = tmp_ / "blob";
    Layout::write(path, make_tar({null, file("etc/hostname", "box")}));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // Root inside, mapped to root outside with a one-id map: not the initial namespace.
        if (::unshare(CLONE_NEWUSER) < 0) ::_exit(10);
        auto write = [](const char* file, const char* text) {
            int fd = ::open(file, O_WRONLY | O_CLOEXEC);
            bool ok = fd >= 0 && ::write(fd, text, std::strlen(text)) == static_cast<ssize_t>(std::strlen(text));
            if (fd >= 0) ::close(fd);
            return ok;
        };
        if (!write("/proc/self/setgroups", "deny") || !write("/proc/self/uid_map", "0 0 1") ||
            !write("/proc/self/gid_map", "0 0 1"))
            ::_exit(11);
        try {
            Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
            Fd root(::open(dest().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            unpack_layer(fd.get(), root.get(), Compression::none, kLayer);
        } catch (...) {
            ::_exit(12);
        }
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    struct stat st{};
    EXPECT_NE(::lstat(at("dev/null").c_str(), &st), 0) << "the device was skipped";
    EXPECT_EQ(kiln::testing::slurp(at("etc/hostname")), "box");
}

TEST_F(UnpackTest, HardLinksShareTheInode) {
    unpack({file("a", "data", 0640), hardlink("b", "a"), dir("d"), hardlink("d/c", "./a")});
    struct stat a = lstat_of(at("a")), b = lstat_of(at("b")), c = lstat_of(at("d/c"));
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(a.st_ino, c.st_ino);
    EXPECT_EQ(a.st_nlink, 3u);
}

TEST_F(UnpackTest, FifosAndDevicesAreCreated) {
    Entry fifo{"run/fifo", 'p', "", 0600};
    Entry null{"dev/null", 'c', "", 0666};
    null.major = 1;
    null.minor = 3;
    unpack({fifo, null});
    EXPECT_TRUE(S_ISFIFO(lstat_of(at("run/fifo")).st_mode));
    struct stat st = lstat_of(at("dev/null"));
    ASSERT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(major(st.st_rdev), 1u);
    EXPECT_EQ(minor(st.st_rdev), 3u);
    EXPECT_EQ(st.st_mode & 07777, 0666u);
}

TEST_F(UnpackTest, WhiteoutsBecomeOverlayWhiteouts) {
    unpack({dir("etc"), file("etc/.wh.gone"), dir("opaque"), file("opaque/.wh..wh..opq"), file("opaque/kept"),
            file(".wh..wh.plnk")});
    struct stat st = lstat_of(at("etc/gone"));
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(st.st_rdev, makedev(0, 0));
    EXPECT_FALSE(kiln::testing::exists(at("etc/.wh.gone")));
    char value[4] = {};
    EXPECT_EQ(::getxattr(at("opaque").c_str(), "trusted.overlay.opaque", value, sizeof value), 1);
    EXPECT_EQ(value[0], 'y');
    EXPECT_FALSE(kiln::testing::exists(at("opaque/.wh..wh..opq")));
    EXPECT_TRUE(kiln::testing::exists(at("opaque/kept")));
    EXPECT_FALSE(kiln::testing::exists(at(".wh..wh.plnk")));
}

TEST_F(UnpackTest, LaterEntriesReplaceEarlierOnes) {
    unpack({file("x", "first"), file("x", "second"), dir("d"), file("d/f"), file("d", "now a file"),
            symlink("l", "/etc"), file("l", "not through the link")});
    EXPECT_EQ(kiln::testing::slurp(at("x")), "second");
    EXPECT_EQ(kiln::testing::slurp(at("d")), "now a file");
    EXPECT_TRUE(S_ISREG(lstat_of(at("l")).st_mode));
}

TEST_F(UnpackTest, ParentDirectoriesMissingFromTheLayerAreCreated) {
    unpack({file("usr/local/bin/tool", "t", 0755)});
    struct stat st = lstat_of(at("usr/local"));
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(UnpackTest, DotDotIsRefusedByName) {
    std::string msg = refusal({file("../x", "escape")});
    EXPECT_NE(msg.find("\"../x\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(kLayer), std::string::npos) << msg;
    EXPECT_FALSE(kiln::testing::exists(tmp_ / "x"));
    EXPECT_NE(refusal({file("a/../../y")}).find("a/../../y"), std::string::npos);
    EXPECT_FALSE(kiln::testing::exists(tmp_ / "y"));
}

TEST_F(UnpackTest, AbsoluteNamesAreRefusedByName) {
    std::string name = "/" + std::filesystem::path(tmp_.path()).filename().string() + "-abs";
    std::string msg = refusal({file(name, "escape")});
    EXPECT_NE(msg.find(name), std::string::npos) << msg;
    EXPECT_NE(msg.find("absolute"), std::string::npos) << msg;
    EXPECT_FALSE(kiln::testing::exists(name));
}

TEST_F(UnpackTest, WritingThroughASymlinkIsRefused) {
    std::string outside = tmp_ / "outside";
    ::mkdir(outside.c_str(), 0755);
    std::string msg = refusal({symlink("a", outside), file("a/file", "escape")});
    EXPECT_NE(msg.find("\"a/file\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("symlink"), std::string::npos) << msg;
    EXPECT_FALSE(kiln::testing::exists(outside + "/file"));

    // A relative link that climbs out, and a link used as a parent deeper down.
    std::string msg2 = refusal({dir("d"), symlink("d/up", "../../.."), file("d/up/etc/x")});
    EXPECT_NE(msg2.find("d/up/etc/x"), std::string::npos) << msg2;
}

TEST_F(UnpackTest, HardLinksOutOfTheLayerAreRefused) {
    struct stat before = lstat_of("/etc/passwd");
    std::string msg = refusal({hardlink("pw", "../../etc/passwd")});
    EXPECT_NE(msg.find("\"pw\""), std::string::npos) << msg;
    EXPECT_NE(msg.find("../../etc/passwd"), std::string::npos) << msg;
    EXPECT_EQ(lstat_of("/etc/passwd").st_nlink, before.st_nlink);

    EXPECT_NE(refusal({hardlink("pw", "/etc/passwd")}).find("absolute"), std::string::npos);
    // Not in this layer: a lower layer's file cannot be linked to.
    EXPECT_NE(refusal({hardlink("pw", "etc/passwd")}).find("not in this layer"), std::string::npos);
    // Nor a target reached through a symlink.
    std::string msg2 = refusal({symlink("etc", "/etc"), hardlink("pw", "etc/passwd")});
    EXPECT_NE(msg2.find("symlink"), std::string::npos) << msg2;
    EXPECT_EQ(lstat_of("/etc/passwd").st_nlink, before.st_nlink);
}

TEST_F(UnpackTest, OverlayXattrsFromTheLayerAreRefused) {
    Entry d = dir("d");
    d.xattrs["trusted.overlay.redirect"] = "/etc";
    EXPECT_NE(refusal({d}).find("trusted.overlay.redirect"), std::string::npos);
}

}  // namespace
}  // namespace kiln::image
