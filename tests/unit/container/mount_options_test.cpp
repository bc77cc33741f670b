// Mount option words of config.json -> mount(2) flags, propagation, recursive attributes, data.
#include "core/container/mount_options.hpp"

#include <gtest/gtest.h>
#include <linux/mount.h>
#include <sys/mount.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/sys/error.hpp"

namespace kiln::container {
namespace {

MountOptions parse(std::vector<std::string> options) { return parse_mount_options(options, "mounts[0].options"); }

constexpr unsigned long kAtime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;

TEST(MountOptions, NoOptionsIsNothing) {
    MountOptions o = parse({});
    EXPECT_EQ(o.flags, 0u);
    EXPECT_EQ(o.clear, 0u);
    EXPECT_FALSE(o.bind);
    EXPECT_TRUE(o.propagation.empty());
    EXPECT_EQ(o.attr_set, 0u);
    EXPECT_EQ(o.attr_clr, 0u);
    EXPECT_FALSE(o.idmap);
    EXPECT_FALSE(o.tmpcopyup);
    EXPECT_EQ(o.data, "");
}

TEST(MountOptions, SettingWordsSetTheirFlags) {
    MountOptions o = parse({"ro", "nosuid", "nodev", "noexec", "sync", "dirsync", "mand", "nodiratime", "silent",
                            "lazytime", "iversion"});
    EXPECT_EQ(o.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_DIRSYNC | MS_MANDLOCK |
                           MS_NODIRATIME | MS_SILENT | MS_LAZYTIME | MS_I_VERSION);
    EXPECT_EQ(o.clear, 0u);
    EXPECT_EQ(o.data, "");
}

TEST(MountOptions, ClearingWordsClearTheirFlags) {
    MountOptions o = parse({"rw", "suid", "dev", "exec", "async", "nomand", "diratime", "loud", "nolazytime",
                            "noiversion"});
    EXPECT_EQ(o.flags, 0u);
    EXPECT_EQ(o.clear, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_MANDLOCK |
                           MS_NODIRATIME | MS_SILENT | MS_LAZYTIME | MS_I_VERSION);
}

TEST(MountOptions, LaterWordWinsBetweenSetAndClear) {
    MountOptions ro_last = parse({"rw", "ro"});
    EXPECT_TRUE(ro_last.flags & MS_RDONLY);
    EXPECT_FALSE(ro_last.clear & MS_RDONLY);

    MountOptions rw_last = parse({"ro", "rw"});
    EXPECT_FALSE(rw_last.flags & MS_RDONLY);
    EXPECT_TRUE(rw_last.clear & MS_RDONLY);

    MountOptions suid_last = parse({"nosuid", "nodev", "suid"});
    EXPECT_EQ(suid_last.flags, MS_NODEV);
    EXPECT_EQ(suid_last.clear, MS_NOSUID);
}

TEST(MountOptions, AtimeWordsAreOneSettingAndTheLastWins) {
    EXPECT_EQ(parse({"noatime", "relatime"}).flags & kAtime, MS_RELATIME);
    EXPECT_EQ(parse({"relatime", "strictatime"}).flags & kAtime, MS_STRICTATIME);
    EXPECT_EQ(parse({"strictatime", "noatime"}).flags & kAtime, MS_NOATIME);
    EXPECT_EQ(parse({"strictatime", "nodiratime", "relatime"}).flags, MS_RELATIME | MS_NODIRATIME);
}

TEST(MountOptions, AtimeClearingWordsClearOnlyTheirOwnFlag) {
    MountOptions o = parse({"noatime", "atime"});
    EXPECT_EQ(o.flags & kAtime, 0u);
    EXPECT_EQ(o.clear, static_cast<unsigned long>(MS_NOATIME));
    MountOptions r = parse({"relatime", "norelatime"});
    EXPECT_EQ(r.flags, 0u);
    EXPECT_EQ(r.clear, static_cast<unsigned long>(MS_RELATIME));
    MountOptions s = parse({"nostrictatime", "strictatime"});
    EXPECT_EQ(s.flags, static_cast<unsigned long>(MS_STRICTATIME));
    EXPECT_EQ(s.clear, 0u);
}

TEST(MountOptions, BindIsNotRecursive) {
    MountOptions o = parse({"bind", "ro"});
    EXPECT_TRUE(o.bind);
    EXPECT_FALSE(o.recursive);
    EXPECT_EQ(o.flags, MS_BIND | MS_RDONLY);
}

TEST(MountOptions, RbindIsRecursive) {
    MountOptions o = parse({"rbind"});
    EXPECT_TRUE(o.bind);
    EXPECT_TRUE(o.recursive);
    EXPECT_EQ(o.flags, MS_BIND | MS_REC);
    // A later plain "bind" does not undo the recursion.
    EXPECT_TRUE(parse({"rbind", "bind"}).recursive);
}

TEST(MountOptions, RemountAndDefaultsAreKnown) {
    EXPECT_EQ(parse({"remount"}).flags, static_cast<unsigned long>(MS_REMOUNT));
    MountOptions d = parse({"defaults"});
    EXPECT_EQ(d.flags, 0u);
    EXPECT_EQ(d.data, "");
}

TEST(MountOptions, PropagationWordsAreKeptInOrder) {
    MountOptions o = parse({"rslave", "private", "rbind", "runbindable", "shared", "rshared", "slave", "rprivate",
                            "unbindable"});
    EXPECT_EQ(o.propagation,
              (std::vector<unsigned long>{MS_SLAVE | MS_REC, MS_PRIVATE, MS_UNBINDABLE | MS_REC, MS_SHARED,
                                          MS_SHARED | MS_REC, MS_SLAVE, MS_PRIVATE | MS_REC, MS_UNBINDABLE}));
    // Propagation is not a mount(2) flag of the mount itself.
    EXPECT_EQ(o.flags, MS_BIND | MS_REC);
}

TEST(MountOptions, RecursiveAttributesSetAndClear) {
    MountOptions o = parse({"rro", "rnosuid", "rnodev", "rnoexec", "rnodiratime", "rnosymfollow"});
    EXPECT_EQ(o.attr_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                 MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
    EXPECT_EQ(o.attr_clr, 0u);
    EXPECT_EQ(o.flags, 0u);  // none of them is a mount(2) flag

    MountOptions c = parse({"rrw", "rsuid", "rdev", "rexec", "rdiratime", "rsymfollow"});
    EXPECT_EQ(c.attr_set, 0u);
    EXPECT_EQ(c.attr_clr, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                 MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW));
}

TEST(MountOptions, RecursiveAttributeLastWordWins) {
    // mount_setattr applies attr_set after attr_clr: a bit in both ends up set, so "rro,rrw"
    // would be read-only although the last word asks for read-write.
    MountOptions rw_last = parse({"rro", "rrw"});
    EXPECT_EQ(rw_last.attr_set & MOUNT_ATTR_RDONLY, 0u);
    EXPECT_EQ(rw_last.attr_clr & MOUNT_ATTR_RDONLY, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));

    MountOptions ro_last = parse({"rrw", "rro"});
    EXPECT_EQ(ro_last.attr_set & MOUNT_ATTR_RDONLY, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
    EXPECT_EQ(ro_last.attr_clr & MOUNT_ATTR_RDONLY, 0u);
}

TEST(MountOptions, RecursiveAtimeAlsoClearsTheWholeAtimeField) {
    // mount_setattr(2): an atime setting in attr_set needs MOUNT_ATTR__ATIME in attr_clr, or the
    // kernel answers EINVAL (checked on 6.x). runc's parser does the same.
    for (auto [word, attr] : std::vector<std::pair<std::string, uint64_t>>{
             {"rnoatime", MOUNT_ATTR_NOATIME}, {"rstrictatime", MOUNT_ATTR_STRICTATIME},
             {"rrelatime", MOUNT_ATTR_RELATIME}}) {
        MountOptions o = parse({word});
        EXPECT_EQ(o.attr_set & MOUNT_ATTR__ATIME, attr) << word;
        EXPECT_EQ(o.attr_clr & MOUNT_ATTR__ATIME, static_cast<uint64_t>(MOUNT_ATTR__ATIME)) << word;
    }
}

TEST(MountOptions, IdmapAndRidmap) {
    MountOptions i = parse({"bind", "idmap"});
    EXPECT_TRUE(i.idmap);
    EXPECT_FALSE(i.idmap_recursive);
    MountOptions r = parse({"rbind", "ridmap"});
    EXPECT_TRUE(r.idmap);
    EXPECT_TRUE(r.idmap_recursive);
    EXPECT_EQ(r.data, "");
}

TEST(MountOptions, Tmpcopyup) {
    MountOptions o = parse({"tmpcopyup", "mode=755"});
    EXPECT_TRUE(o.tmpcopyup);
    EXPECT_EQ(o.data, "mode=755");
}

TEST(MountOptions, UnknownWordsBecomeDataJoinedWithCommas) {
    MountOptions o = parse({"nosuid", "mode=755", "ro", "size=65536k", "uid=5", "newinstance"});
    EXPECT_EQ(o.flags, MS_NOSUID | MS_RDONLY);
    EXPECT_EQ(o.data, "mode=755,size=65536k,uid=5,newinstance");
}

TEST(MountOptions, OptionWordsAreCaseSensitive) {
    MountOptions o = parse({"RO", "Bind"});
    EXPECT_EQ(o.flags, 0u);
    EXPECT_FALSE(o.bind);
    EXPECT_EQ(o.data, "RO,Bind");
}

TEST(MountOptions, EmptyOptionIsAnErrorNamingItsIndex) {
    try {
        parse_mount_options({"ro", ""}, "mounts[2].options");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        EXPECT_EQ(std::string(e.what()), "mounts[2].options[1]: empty mount option");
    }
}

TEST(MountOptions, EveryKnownWordIsRecognisedOnItsOwn) {
    auto known = known_mount_options();
    EXPECT_GT(known.size(), 50u);
    for (const auto& word : known) {
        MountOptions o = parse({word});
        EXPECT_EQ(o.data, "") << word << " is listed as known but passed through as data";
    }
    for (const char* word : {"rbind", "rro", "idmap", "ridmap", "tmpcopyup", "rslave", "strictatime"})
        EXPECT_NE(std::find(known.begin(), known.end(), word), known.end()) << word;
}

}  // namespace
}  // namespace kiln::container
