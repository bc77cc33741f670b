// Rootfs setup (prepare, enter, finalize) through the Os interface, against a recording fake that
// keeps a map of paths and a table of fds: which calls are made, in which order, with which flags.
#include "core/container/rootfs.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.hpp"

namespace kiln::container {
namespace {

using kiln::testing::slurp;
using kiln::testing::TempDir;

constexpr const char* kRootfs = "/bundle/rootfs";
constexpr const char* kFdPrefix = "/proc/self/fd/";

// One call to the Os, with its arguments and the host path the fake resolved its target to.
struct Call {
    std::string name;
    int dirfd = AT_FDCWD;
    std::string path;      // as given (mount: the target)
    std::string resolved;  // absolute path in the fake's filesystem, "" when it could not resolve
    std::string source;    // mount: source; symlinkat: link text; open_tree/move_mount: the other path
    std::string type;
    std::string data;
    uint64_t flags = 0;    // mount flags, open flags, umount flags, mount_setattr flags
    uint64_t resolve = 0;  // openat2
    uint64_t attr_set = 0, attr_clr = 0;
    int userns_fd = -1;
    mode_t mode = 0;
    dev_t dev = 0;
    int result = 0;

    std::string str() const {
        return name + "(" + path + (resolved.empty() || resolved == path ? "" : " -> " + resolved) +
               (source.empty() ? "" : ", src=" + source) + (type.empty() ? "" : ", type=" + type) + ")";
    }
};

// A test double of the kernel: a map of paths to kinds and a table of fds to paths. The fds are
// real (each one holds /dev/null open), so the numbers never collide with anything the process
// has open; paths listed in `real_files` open that real file instead, for code that writes to an
// fd with write(2) directly.
class RecordingOs final : public Os {
public:
    enum class Kind { dir, file, device, symlink };

    RecordingOs() { add_dir("/"); }
    ~RecordingOs() override {
        for (const auto& [fd, path] : fds) ::close(fd);
    }

    void add_dir(const std::string& path) {
        std::string cur;
        for (const auto& part : split(path)) {
            cur += "/" + part;
            fs.emplace(cur, Kind::dir);
        }
        fs.emplace("/", Kind::dir);
    }
    void add_file(const std::string& path) {
        add_dir(parent(normalize(path)));
        fs[normalize(path)] = Kind::file;
    }

    std::vector<Call> named(const std::string& name) const {
        std::vector<Call> out;
        for (const auto& c : calls)
            if (c.name == name) out.push_back(c);
        return out;
    }
    std::vector<Call> mounts() const { return named("mount"); }
    std::string trace() const {
        std::string out;
        for (const auto& c : calls) out += "  " + c.str() + (c.result < 0 ? " = -1\n" : "\n");
        return out;
    }

    // ---- Os ----

    int mount(const char* source, const char* target, const char* type, unsigned long flags,
              const char* data) override {
        Call c = make("mount", AT_FDCWD, target);
        c.source = source ? source : "";
        c.type = type ? type : "";
        c.data = data ? data : "";
        c.flags = flags;
        if (c.resolved.empty() || !fs.count(c.resolved)) return done(c, std::string(target).rfind(kFdPrefix, 0) == 0 ? EBADF : ENOENT);
        return done(c);
    }
    int umount2(const char* target, int flags) override {
        Call c = make("umount2", AT_FDCWD, target);
        c.flags = static_cast<uint64_t>(flags);
        return done(c);
    }
    int openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) override {
        std::string rel = path;
        if (resolve & RESOLVE_IN_ROOT)
            while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
        Call c = make("openat2", dirfd, rel.empty() ? "." : rel.c_str());
        c.path = path;
        c.flags = flags;
        c.resolve = resolve;
        c.mode = static_cast<mode_t>(mode);
        return open_existing(c);
    }
    int openat(int dirfd, const char* path, int flags, mode_t mode) override {
        Call c = make("openat", dirfd, path);
        c.flags = static_cast<uint64_t>(flags);
        c.mode = mode;
        if (flags & O_CREAT) {
            if (fs.count(c.resolved)) {
                if (flags & O_EXCL) return done(c, EEXIST);
            } else {
                if (int err = fail ? fail(c) : 0) return done(c, err);
                if (!is_dir(parent(c.resolved))) return done(c, ENOENT);
                fs[c.resolved] = Kind::file;
            }
            return new_fd(c);
        }
        return open_existing(c);
    }
    int close(int fd) override {
        Call c{.name = "close", .dirfd = fd};
        auto it = fds.find(fd);
        if (it == fds.end()) return done(c, EBADF);
        c.resolved = it->second;
        ::close(fd);
        fds.erase(it);
        return done(c);
    }
    int mkdirat(int dirfd, const char* path, mode_t mode) override {
        Call c = make("mkdirat", dirfd, path);
        c.mode = mode;
        return create(c, Kind::dir);
    }
    int mknodat(int dirfd, const char* path, mode_t mode, dev_t dev) override {
        Call c = make("mknodat", dirfd, path);
        c.mode = mode;
        c.dev = dev;
        int r = create(c, Kind::device);
        if (r == 0) rdevs[c.resolved] = dev;
        return r;
    }
    int symlinkat(const char* target, int dirfd, const char* path) override {
        Call c = make("symlinkat", dirfd, path);
        c.source = target;
        int r = create(c, Kind::symlink);
        if (r == 0) links[c.resolved] = target;
        return r;
    }
    ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) override {
        Call c = make("readlinkat", dirfd, path);
        auto it = links.find(c.resolved);
        if (it == links.end()) return done(c, fs.count(c.resolved) ? EINVAL : ENOENT);
        if (int r = done(c); r < 0) return r;
        size_t n = std::min(size, it->second.size());
        memcpy(buf, it->second.data(), n);
        return static_cast<ssize_t>(n);
    }
    int unlinkat(int dirfd, const char* path, int flags) override {
        Call c = make("unlinkat", dirfd, path);
        c.flags = static_cast<uint64_t>(flags);
        if (!fs.count(c.resolved)) return done(c, ENOENT);
        if (int r = done(c); r < 0) return r;
        fs.erase(c.resolved);
        links.erase(c.resolved);
        return 0;
    }
    ssize_t write(int fd, const void* data, size_t size) override {
        Call c{.name = "write", .dirfd = fd};
        auto it = fds.find(fd);
        if (it == fds.end()) return done(c, EBADF);
        c.resolved = it->second;
        c.data.assign(static_cast<const char*>(data), size);
        if (int r = done(c); r < 0) return r;
        return ::write(fd, data, size);  // a sysctl mapped to a real temp file keeps what is written
    }
    int fchownat(int dirfd, const char* path, uid_t uid, gid_t gid, int flags) override {
        Call c = make("fchownat", dirfd, path);
        c.data = std::to_string(uid) + ":" + std::to_string(gid);
        c.flags = static_cast<uint64_t>(flags);
        return done(c, fs.count(c.resolved) ? 0 : ENOENT);
    }
    int fchmodat(int dirfd, const char* path, mode_t mode) override {
        Call c = make("fchmodat", dirfd, path);
        c.mode = mode;
        return done(c, fs.count(c.resolved) ? 0 : ENOENT);
    }
    int fstatat(int dirfd, const char* path, struct stat* st, int flags) override {
        Call c = make("fstatat", dirfd, path);
        c.flags = static_cast<uint64_t>(flags);
        auto it = fs.find(c.resolved);
        if (it == fs.end()) return done(c, ENOENT);
        if (int r = done(c); r < 0) return r;
        *st = {};
        switch (it->second) {
            case Kind::dir: st->st_mode = S_IFDIR | 0755; break;
            case Kind::file: st->st_mode = S_IFREG | 0644; break;
            case Kind::device:
                st->st_mode = S_IFCHR | 0666;
                st->st_rdev = rdevs.count(c.resolved) ? rdevs.at(c.resolved) : 0;
                break;
            case Kind::symlink: st->st_mode = S_IFLNK | 0777; break;
        }
        return 0;
    }
    int pivot_root(const char* new_root, const char* put_old) override {
        Call c = make("pivot_root", AT_FDCWD, new_root);
        c.source = put_old;
        return done(c);
    }
    int chdir(const char* path) override {
        Call c = make("chdir", AT_FDCWD, path);
        if (!is_dir(c.resolved)) return done(c, ENOENT);
        if (int r = done(c); r < 0) return r;
        cwd_ = c.resolved;
        return 0;
    }
    int fchdir(int fd) override {
        Call c{.name = "fchdir", .dirfd = fd};
        auto it = fds.find(fd);
        if (it == fds.end()) return done(c, EBADF);
        c.resolved = it->second;
        if (int r = done(c); r < 0) return r;
        cwd_ = it->second;
        return 0;
    }
    int chroot(const char* path) override { return done(make("chroot", AT_FDCWD, path)); }
    int mount_setattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                      uint64_t propagation, int userns_fd) override {
        Call c = make("mount_setattr", dirfd, path);
        c.flags = flags;
        c.attr_set = attr_set;
        c.attr_clr = attr_clr;
        c.resolve = propagation;
        c.userns_fd = userns_fd;
        return done(c);
    }
    int open_tree(int dirfd, const char* path, unsigned flags) override {
        Call c = make("open_tree", dirfd, path);
        c.flags = flags;
        return open_existing(c);
    }
    int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                   unsigned flags) override {
        Call c = make("move_mount", to_dirfd, to_path);
        c.source = fds.count(from_dirfd) ? fds[from_dirfd] : std::string();
        c.data = from_path;
        c.flags = flags;
        return done(c);
    }
    int fstatfs_flags(int fd, unsigned long* flags) override {
        Call c{.name = "fstatfs_flags", .dirfd = fd};
        if (!fds.count(fd)) return done(c, EBADF);
        *flags = statfs_flags;
        return done(c);
    }

    std::map<std::string, Kind> fs;
    std::map<std::string, std::string> links;  // symlink targets, by resolved path
    std::map<std::string, dev_t> rdevs;        // device numbers, by resolved path
    std::map<int, std::string> fds;
    std::vector<Call> calls;
    std::map<std::string, std::string> real_files;  // fake path -> real file openat opens instead
    unsigned long statfs_flags = 0;
    // Decides whether a call fails: an errno, or 0 to let it through.
    std::function<int(const Call&)> fail;

private:
    static std::vector<std::string> split(const std::string& path) {
        std::vector<std::string> out;
        size_t i = 0;
        while (i < path.size()) {
            size_t j = path.find('/', i);
            if (j == std::string::npos) j = path.size();
            std::string part = path.substr(i, j - i);
            if (part == "..") {
                if (!out.empty()) out.pop_back();
            } else if (!part.empty() && part != ".") {
                out.push_back(part);
            }
            i = j + 1;
        }
        return out;
    }
    static std::string normalize(const std::string& path) {
        std::string out;
        for (const auto& part : split(path)) out += "/" + part;
        return out.empty() ? "/" : out;
    }
    static std::string parent(const std::string& path) {
        auto slash = path.find_last_of('/');
        return slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
    bool is_dir(const std::string& path) const {
        auto it = fs.find(path);
        return it != fs.end() && it->second == Kind::dir;
    }
    // dirfd + path -> absolute path; "/proc/self/fd/N" is the path fd N was opened on.
    std::string resolve(int dirfd, const std::string& path) const {
        if (path.rfind(kFdPrefix, 0) == 0) {
            auto it = fds.find(std::atoi(path.c_str() + strlen(kFdPrefix)));
            return it == fds.end() ? "" : it->second;
        }
        if (!path.empty() && path[0] == '/') return normalize(path);
        std::string base = cwd_;
        if (dirfd != AT_FDCWD) {
            auto it = fds.find(dirfd);
            if (it == fds.end()) return "";
            base = it->second;
        }
        return normalize(base + "/" + path);
    }
    Call make(const char* name, int dirfd, const char* path) {
        Call c{.name = name, .dirfd = dirfd, .path = path ? path : ""};
        c.resolved = resolve(dirfd, c.path);
        return c;
    }
    int done(Call c, int err = 0) {
        if (!err && fail) err = fail(c);
        c.result = err ? -1 : 0;
        calls.push_back(c);
        if (!err) return 0;
        errno = err;
        return -1;
    }
    int new_fd(Call& c) {
        int fd;
        if (auto real = real_files.find(c.resolved); real != real_files.end())
            fd = ::open(real->second.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        else
            fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) return done(c, errno);
        fds[fd] = c.resolved;
        c.result = fd;
        calls.push_back(c);
        return fd;
    }
    int open_existing(Call& c) {
        auto it = fs.find(c.resolved);
        if (c.resolved.empty()) return done(c, EBADF);
        if (it == fs.end()) return done(c, ENOENT);
        if ((c.flags & O_DIRECTORY) && it->second != Kind::dir) return done(c, ENOTDIR);
        if (fail)
            if (int err = fail(c)) return done(c, err);
        return new_fd(c);
    }
    int create(Call& c, Kind kind) {
        if (c.resolved.empty()) return done(c, EBADF);
        if (fs.count(c.resolved)) return done(c, EEXIST);
        if (!is_dir(parent(c.resolved))) return done(c, ENOENT);
        if (fail)
            if (int err = fail(c)) return done(c, err);
        fs[c.resolved] = kind;
        return done(c);
    }

    std::string cwd_ = "/";
};

// A host with a bundle and a few bind sources.
class RootfsTest : public ::testing::Test {
protected:
    RootfsTest() {
        os.add_dir(kRootfs);
        os.add_dir("/host/data");
        os.add_file("/host/hosts");
        os.add_file("/dev/null");
        plan.rootfs = kRootfs;
        plan.propagation = MS_SLAVE | MS_REC;
    }

    MountStep& add_mount(std::string destination, std::string type, std::string source, unsigned long flags = 0) {
        MountStep m;
        m.field = "mounts[" + std::to_string(plan.mounts.size()) + "]";
        m.destination = std::move(destination);
        m.type = std::move(type);
        m.source = std::move(source);
        m.flags = flags;
        plan.mounts.push_back(std::move(m));
        return plan.mounts.back();
    }
    MountStep& add_bind(std::string destination, std::string source, unsigned long flags = 0, bool recursive = true) {
        MountStep& m = add_mount(std::move(destination), "", std::move(source), flags);
        m.bind = true;
        m.recursive = recursive;
        return m;
    }

    int prepare() {
        int r = prepare_rootfs(os, plan, &error);
        EXPECT_TRUE(os.fds.empty()) << "fds left open:\n" << os.trace();
        return r;
    }
    // The mount calls whose target is the fd of `destination` in the rootfs.
    std::vector<Call> mounts_on(const std::string& destination) const {
        std::vector<Call> out;
        for (const auto& c : os.mounts())
            if (c.path.rfind(kFdPrefix, 0) == 0 && c.resolved == std::string(kRootfs) + destination) out.push_back(c);
        return out;
    }

    RecordingOs os;
    RootfsPlan plan;
    InitError error;
};

// ---- prepare_rootfs --------------------------------------------------------------------------

TEST_F(RootfsTest, FirstCallSetsPropagationOnSlashThenBindsTheRootfsOntoItself) {
    ASSERT_EQ(prepare(), 0) << error.message;
    auto m = os.mounts();
    ASSERT_GE(m.size(), 2u);
    EXPECT_EQ(os.calls[0].name, "mount");
    EXPECT_EQ(m[0].path, "/");
    EXPECT_EQ(m[0].source, "");
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_SLAVE | MS_REC));
    EXPECT_EQ(m[1].source, kRootfs);
    EXPECT_EQ(m[1].path, kRootfs);
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_BIND | MS_REC));
}

TEST_F(RootfsTest, PropagationComesFromThePlan) {
    plan.propagation = MS_SHARED | MS_REC;
    plan.parent_mount = "/bundle";
    ASSERT_EQ(prepare(), 0) << error.message;
    auto m = os.mounts();
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_SHARED | MS_REC));
    // pivot_root refuses a shared parent mount: it is made private before the rootfs is bound.
    EXPECT_EQ(m[1].path, "/bundle");
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_PRIVATE));
    EXPECT_EQ(m[2].path, kRootfs);
}

TEST_F(RootfsTest, FailingPropagationNamesTheCall) {
    os.fail = [](const Call& c) { return c.name == "mount" && c.path == "/" ? EPERM : 0; };
    EXPECT_EQ(prepare(), -1);
    EXPECT_EQ(error.err, EPERM);
    EXPECT_STREQ(error.message, "set propagation 0x84000 on `/`: Operation not permitted");
}

TEST_F(RootfsTest, TargetsAreOpenedInsideTheRootAndMountedThroughProcSelfFd) {
    add_mount("/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    add_mount("/dev", "tmpfs", "tmpfs", MS_NOSUID).data = "mode=755";
    add_bind("/data", "/host/data", MS_RDONLY);
    add_bind("/etc/hosts", "/host/hosts");
    ASSERT_EQ(prepare(), 0) << error.message;

    for (const auto& c : os.named("openat2"))
        EXPECT_TRUE(c.resolve & RESOLVE_IN_ROOT) << c.str();
    for (const auto& c : os.named("openat"))
        EXPECT_FALSE(c.dirfd == AT_FDCWD && c.resolved.rfind(std::string(kRootfs) + "/", 0) == 0)
            << "plain path open below the rootfs: " << c.str();
    // Every mount after the first two goes through an fd of its target.
    auto m = os.mounts();
    for (size_t i = 2; i < m.size(); ++i) {
        EXPECT_EQ(m[i].path.rfind(kFdPrefix, 0), 0u) << m[i].str();
        EXPECT_EQ(m[i].resolved.rfind(std::string(kRootfs) + "/", 0), 0u) << m[i].str();
    }

    auto proc = mounts_on("/proc");
    ASSERT_EQ(proc.size(), 1u) << os.trace();
    EXPECT_EQ(proc[0].source, "proc");
    EXPECT_EQ(proc[0].type, "proc");
    EXPECT_EQ(proc[0].flags, static_cast<uint64_t>(MS_NOSUID | MS_NODEV | MS_NOEXEC));
    auto dev = mounts_on("/dev");
    ASSERT_EQ(dev.size(), 1u);
    EXPECT_EQ(dev[0].data, "mode=755");
    // Targets were made: directories, and an empty file for a file bind.
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/proc"), RecordingOs::Kind::dir);
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/etc"), RecordingOs::Kind::dir);
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/etc/hosts"), RecordingOs::Kind::file);
}

TEST_F(RootfsTest, ReadOnlyBindIsFollowedByARemount) {
    add_bind("/data", "/host/data", MS_RDONLY | MS_NOSUID);
    ASSERT_EQ(prepare(), 0) << error.message;
    auto m = mounts_on("/data");
    ASSERT_EQ(m.size(), 2u) << os.trace();
    EXPECT_EQ(m[0].source, "/host/data");
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_BIND | MS_REC));
    EXPECT_EQ(m[1].source, "");
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID));
    // The remount reaches the new mount through a fresh fd, not the one opened before the bind.
    EXPECT_NE(m[0].path, m[1].path);
}

TEST_F(RootfsTest, BindWithoutFlagsIsNotRemountedAndPlainBindIsNotRecursive) {
    add_bind("/data", "/host/data", 0, false);
    ASSERT_EQ(prepare(), 0) << error.message;
    auto m = mounts_on("/data");
    ASSERT_EQ(m.size(), 1u) << os.trace();
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_BIND));
}

TEST_F(RootfsTest, RemountRefusedWithEpermKeepsTheLockedFlags) {
    add_bind("/data", "/host/data", MS_RDONLY);
    os.statfs_flags = ST_NOSUID | ST_NODEV;
    int remounts = 0;
    os.fail = [&](const Call& c) {
        return c.name == "mount" && (c.flags & MS_REMOUNT) && ++remounts == 1 ? EPERM : 0;
    };
    ASSERT_EQ(prepare(), 0) << error.message;
    auto m = mounts_on("/data");
    ASSERT_EQ(m.size(), 3u) << os.trace();
    EXPECT_EQ(m[1].result, -1);
    EXPECT_EQ(m[2].flags, static_cast<uint64_t>(MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV));
}

TEST_F(RootfsTest, PropagationOptionsAreMountCallsInOrderAfterTheMount) {
    MountStep& m = add_bind("/data", "/host/data");
    m.propagation = {MS_SLAVE | MS_REC, MS_UNBINDABLE, MS_SHARED};
    ASSERT_EQ(prepare(), 0) << error.message;
    auto calls = mounts_on("/data");
    ASSERT_EQ(calls.size(), 4u) << os.trace();
    EXPECT_EQ(calls[0].flags, static_cast<uint64_t>(MS_BIND | MS_REC));
    EXPECT_EQ(calls[1].flags, static_cast<uint64_t>(MS_SLAVE | MS_REC));
    EXPECT_EQ(calls[2].flags, static_cast<uint64_t>(MS_UNBINDABLE));
    EXPECT_EQ(calls[3].flags, static_cast<uint64_t>(MS_SHARED));
    for (size_t i = 1; i < calls.size(); ++i) {
        EXPECT_EQ(calls[i].source, "");
        EXPECT_EQ(calls[i].type, "");
    }
}

TEST_F(RootfsTest, RecursiveAttributesUseMountSetattrRecursively) {
    MountStep& m = add_bind("/data", "/host/data");
    m.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID;
    m.attr_clr = MOUNT_ATTR_NOEXEC;
    ASSERT_EQ(prepare(), 0) << error.message;
    auto calls = os.named("mount_setattr");
    ASSERT_EQ(calls.size(), 1u) << os.trace();
    EXPECT_EQ(calls[0].resolved, std::string(kRootfs) + "/data");
    EXPECT_EQ(calls[0].path, "");
    EXPECT_EQ(calls[0].flags, static_cast<uint64_t>(AT_EMPTY_PATH | AT_RECURSIVE));
    EXPECT_EQ(calls[0].attr_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID));
    EXPECT_EQ(calls[0].attr_clr, static_cast<uint64_t>(MOUNT_ATTR_NOEXEC));
}

TEST_F(RootfsTest, IdmappedBindIsACloneMovedOntoTheTarget) {
    MountStep& m = add_bind("/data", "/host/data");
    m.idmap = true;
    m.idmap_recursive = true;
    m.idmap_userns_fd = 42;
    ASSERT_EQ(prepare(), 0) << error.message;
    auto tree = os.named("open_tree");
    ASSERT_EQ(tree.size(), 1u) << os.trace();
    EXPECT_EQ(tree[0].path, "/host/data");
    EXPECT_EQ(tree[0].flags, static_cast<uint64_t>(OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    auto attr = os.named("mount_setattr");
    ASSERT_EQ(attr.size(), 1u);
    EXPECT_EQ(attr[0].resolved, "/host/data");
    EXPECT_EQ(attr[0].attr_set, static_cast<uint64_t>(MOUNT_ATTR_IDMAP));
    EXPECT_EQ(attr[0].userns_fd, 42);
    EXPECT_EQ(attr[0].flags, static_cast<uint64_t>(AT_EMPTY_PATH | AT_RECURSIVE));
    auto move = os.named("move_mount");
    ASSERT_EQ(move.size(), 1u);
    EXPECT_EQ(move[0].source, "/host/data");
    EXPECT_EQ(move[0].resolved, std::string(kRootfs) + "/data");
    EXPECT_EQ(move[0].flags, static_cast<uint64_t>(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH));
    EXPECT_TRUE(mounts_on("/data").empty());  // no mount(2) bind
}

TEST_F(RootfsTest, FailingMountNamesTheFieldAndErrno) {
    add_mount("/proc", "proc", "proc");
    add_mount("/run", "tmpfs", "tmpfs");
    os.fail = [](const Call& c) { return c.name == "mount" && c.type == "tmpfs" ? EACCES : 0; };
    EXPECT_EQ(prepare(), -1);
    EXPECT_EQ(error.err, EACCES);
    EXPECT_STREQ(error.message, "mounts[1]: mount `tmpfs` (tmpfs) to `/run`: Permission denied");
}

TEST_F(RootfsTest, FailingBindNamesTheFieldSourceAndTarget) {
    add_bind("/data", "/host/data");
    os.fail = [](const Call& c) { return c.name == "mount" && c.source == "/host/data" ? ENODEV : 0; };
    EXPECT_EQ(prepare(), -1);
    EXPECT_EQ(error.err, ENODEV);
    EXPECT_STREQ(error.message, "mounts[0]: bind `/host/data` to `/data`: No such device");
}

TEST_F(RootfsTest, MissingBindSourceIsAnError) {
    add_bind("/data", "/host/gone");
    EXPECT_EQ(prepare(), -1);
    EXPECT_EQ(error.err, ENOENT);
    EXPECT_STREQ(error.message, "mounts[0]: stat `/host/gone`: No such file or directory");
}

TEST_F(RootfsTest, SysfsRefusedInAUserNamespaceFallsBackToBindingTheHosts) {
    add_mount("/sys", "sysfs", "sysfs", MS_NOSUID | MS_RDONLY);
    os.fail = [](const Call& c) { return c.name == "mount" && c.type == "sysfs" ? EPERM : 0; };
    ASSERT_EQ(prepare(), 0) << error.message;
    auto m = mounts_on("/sys");
    ASSERT_EQ(m.size(), 3u) << os.trace();
    EXPECT_EQ(m[1].source, "/sys");
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_BIND | MS_REC));
    EXPECT_EQ(m[2].flags, static_cast<uint64_t>(MS_REMOUNT | MS_BIND | MS_NOSUID | MS_RDONLY));
}

TEST_F(RootfsTest, CgroupTreeMountsEachHierarchyAndLinksComountedNames) {
    MountStep& m = add_mount("/sys/fs/cgroup", "tmpfs", "tmpfs", MS_NOSUID | MS_RDONLY);
    m.cgroup_tree = true;
    m.data = "mode=755";
    plan.own_cgroupns = true;
    plan.cgroup_mounts = {{"cpu,cpuacct", "cgroup", "cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/c1", {"cpu", "cpuacct"}},
                          {"systemd", "cgroup", "name=systemd", "/sys/fs/cgroup/systemd/c1", {}}};
    ASSERT_EQ(prepare(), 0) << error.message;
    auto top = mounts_on("/sys/fs/cgroup");
    ASSERT_EQ(top.size(), 2u) << os.trace();
    EXPECT_EQ(top[0].type, "tmpfs");
    EXPECT_EQ(top[0].flags, static_cast<uint64_t>(MS_NOSUID));  // read-only only once filled
    EXPECT_EQ(top[1].flags, static_cast<uint64_t>(MS_REMOUNT | MS_NOSUID | MS_RDONLY));
    auto cpu = mounts_on("/sys/fs/cgroup/cpu,cpuacct");
    ASSERT_EQ(cpu.size(), 1u);
    EXPECT_EQ(cpu[0].type, "cgroup");
    EXPECT_EQ(cpu[0].data, "cpu,cpuacct");
    EXPECT_EQ(cpu[0].flags, static_cast<uint64_t>(MS_NOSUID | MS_RDONLY));
    auto systemd = mounts_on("/sys/fs/cgroup/systemd");
    ASSERT_EQ(systemd.size(), 1u);
    EXPECT_EQ(systemd[0].data, "name=systemd");
    auto links = os.named("symlinkat");
    ASSERT_EQ(links.size(), 2u);
    EXPECT_EQ(links[0].resolved, std::string(kRootfs) + "/sys/fs/cgroup/cpu");
    EXPECT_EQ(links[0].source, "cpu,cpuacct");
    EXPECT_EQ(links[1].resolved, std::string(kRootfs) + "/sys/fs/cgroup/cpuacct");
}

TEST_F(RootfsTest, CgroupTreeWithoutCgroupNamespaceBindsTheContainersDirectories) {
    MountStep& m = add_mount("/sys/fs/cgroup", "tmpfs", "tmpfs", MS_NOSUID);
    m.cgroup_tree = true;
    plan.own_cgroupns = false;
    plan.cgroup_mounts = {{"memory", "cgroup", "memory", "/sys/fs/cgroup/memory/c1", {}}};
    ASSERT_EQ(prepare(), 0) << error.message;
    auto mem = mounts_on("/sys/fs/cgroup/memory");
    ASSERT_EQ(mem.size(), 2u) << os.trace();
    EXPECT_EQ(mem[0].source, "/sys/fs/cgroup/memory/c1");
    EXPECT_EQ(mem[0].flags, static_cast<uint64_t>(MS_BIND | MS_REC));
    EXPECT_EQ(mem[1].flags, static_cast<uint64_t>(MS_REMOUNT | MS_BIND | MS_NOSUID));
}

TEST_F(RootfsTest, DevicesAreMadeWithMknodInTheRootfsDev) {
    plan.setup_dev = true;
    plan.devices = {{"default device", "/dev/null", S_IFCHR | 0666, makedev(1, 3), 0, 0, false},
                    {"linux.devices[0]", "/dev/fuse", S_IFCHR | 0600, makedev(10, 229), 1000, 1001, true}};
    ASSERT_EQ(prepare(), 0) << error.message;
    auto nodes = os.named("mknodat");
    ASSERT_EQ(nodes.size(), 2u) << os.trace();
    EXPECT_EQ(nodes[0].resolved, std::string(kRootfs) + "/dev/null");
    EXPECT_EQ(nodes[0].path, "null");  // relative to an fd of the rootfs's /dev
    EXPECT_EQ(nodes[0].mode, static_cast<mode_t>(S_IFCHR | 0666));
    EXPECT_EQ(nodes[0].dev, makedev(1, 3));
    EXPECT_EQ(nodes[1].dev, makedev(10, 229));
    auto chown = os.named("fchownat");
    ASSERT_EQ(chown.size(), 1u);
    EXPECT_EQ(chown[0].resolved, std::string(kRootfs) + "/dev/fuse");
    EXPECT_EQ(chown[0].data, "1000:1001");
    // The /dev links.
    std::map<std::string, std::string> links;
    for (const auto& c : os.named("symlinkat")) links[c.resolved] = c.source;
    EXPECT_EQ(links[std::string(kRootfs) + "/dev/fd"], "/proc/self/fd");
    EXPECT_EQ(links[std::string(kRootfs) + "/dev/stdin"], "/proc/self/fd/0");
    EXPECT_EQ(links[std::string(kRootfs) + "/dev/stderr"], "/proc/self/fd/2");
}

TEST_F(RootfsTest, DevicesAreBoundInAUserNamespace) {
    plan.setup_dev = true;
    plan.bind_devices = true;
    plan.devices = {{"default device", "/dev/null", S_IFCHR | 0666, makedev(1, 3), 0, 0, false}};
    ASSERT_EQ(prepare(), 0) << error.message;
    EXPECT_TRUE(os.named("mknodat").empty());
    auto m = mounts_on("/dev/null");
    ASSERT_EQ(m.size(), 1u) << os.trace();
    EXPECT_EQ(m[0].source, "/dev/null");
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_BIND));
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/dev/null"), RecordingOs::Kind::file);
}

TEST_F(RootfsTest, ExistingDeviceNodeIsKept) {
    os.add_dir(std::string(kRootfs) + "/dev");
    os.fs[std::string(kRootfs) + "/dev/null"] = RecordingOs::Kind::device;
    os.rdevs[std::string(kRootfs) + "/dev/null"] = makedev(1, 3);
    plan.setup_dev = true;
    plan.devices = {{"default device", "/dev/null", S_IFCHR | 0666, makedev(1, 3), 0, 0, true}};
    ASSERT_EQ(prepare(), 0) << error.message;
    EXPECT_TRUE(os.named("fchownat").empty());  // the same device: left as the image has it
    EXPECT_TRUE(os.named("unlinkat").empty());
}

TEST_F(RootfsTest, ExistingFileOrOtherDeviceIsReplaced) {
    os.add_dir(std::string(kRootfs) + "/dev");
    os.fs[std::string(kRootfs) + "/dev/null"] = RecordingOs::Kind::file;
    os.fs[std::string(kRootfs) + "/dev/zero"] = RecordingOs::Kind::device;
    os.rdevs[std::string(kRootfs) + "/dev/zero"] = makedev(1, 3);
    plan.setup_dev = true;
    plan.devices = {{"default device", "/dev/null", S_IFCHR | 0666, makedev(1, 3), 0, 0, false},
                    {"default device", "/dev/zero", S_IFCHR | 0666, makedev(1, 5), 0, 0, false}};
    ASSERT_EQ(prepare(), 0) << error.message;
    auto removed = os.named("unlinkat");
    ASSERT_EQ(removed.size(), 2u) << os.trace();
    EXPECT_EQ(removed[0].resolved, std::string(kRootfs) + "/dev/null");
    EXPECT_EQ(removed[1].resolved, std::string(kRootfs) + "/dev/zero");
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/dev/null"), RecordingOs::Kind::device);
    EXPECT_EQ(os.rdevs.at(std::string(kRootfs) + "/dev/null"), makedev(1, 3));
    EXPECT_EQ(os.rdevs.at(std::string(kRootfs) + "/dev/zero"), makedev(1, 5));
}

TEST_F(RootfsTest, ExistingDirectoryWhereADeviceGoesIsAnError) {
    os.add_dir(std::string(kRootfs) + "/dev/null");
    plan.setup_dev = true;
    plan.devices = {{"default device", "/dev/null", S_IFCHR | 0666, makedev(1, 3), 0, 0, false}};
    EXPECT_EQ(prepare(), -1);
    EXPECT_STREQ(error.message, "default device: `/dev/null` in the rootfs: Is a directory");
}

TEST_F(RootfsTest, FailingMknodNamesTheDeviceField) {
    plan.setup_dev = true;
    plan.devices = {{"linux.devices[3]", "/dev/fuse", S_IFCHR | 0666, makedev(10, 229), 0, 0, false}};
    os.fail = [](const Call& c) { return c.name == "mknodat" ? EPERM : 0; };
    EXPECT_EQ(prepare(), -1);
    EXPECT_EQ(error.err, EPERM);
    EXPECT_STREQ(error.message, "linux.devices[3]: mknod `/dev/fuse`: Operation not permitted");
}

TEST_F(RootfsTest, CwdIsMadeInsideTheRootfs) {
    plan.cwd = "/work/dir";
    ASSERT_EQ(prepare(), 0) << error.message;
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/work/dir"), RecordingOs::Kind::dir);
}

TEST_F(RootfsTest, FailingCwdNamesProcessCwd) {
    plan.cwd = "/work";
    os.fail = [](const Call& c) { return c.name == "mkdirat" && c.path == "work" ? EROFS : 0; };
    EXPECT_EQ(prepare(), -1);
    EXPECT_EQ(error.err, EROFS);
    EXPECT_STREQ(error.message, "process.cwd: mkdir `/work` inside the rootfs: Read-only file system");
}

TEST_F(RootfsTest, MakeInRootCreatesEveryMissingComponent) {
    int root = os.openat(AT_FDCWD, kRootfs, O_PATH | O_DIRECTORY, 0);
    ASSERT_GE(root, 0);
    EXPECT_EQ(make_in_root(os, root, "/a/b//c/file", true, &error), 0) << error.message;
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/a/b"), RecordingOs::Kind::dir);
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/a/b/c"), RecordingOs::Kind::dir);
    EXPECT_EQ(os.fs.at(std::string(kRootfs) + "/a/b/c/file"), RecordingOs::Kind::file);
    // Again: everything exists, nothing is created.
    size_t made = os.named("mkdirat").size();
    EXPECT_EQ(make_in_root(os, root, "/a/b/c/file", true, &error), 0) << error.message;
    EXPECT_EQ(os.named("mkdirat").size(), made);
    os.close(root);
    EXPECT_TRUE(os.fds.empty());
}

TEST_F(RootfsTest, OpenInRootNamesThePathOnFailure) {
    int root = os.openat(AT_FDCWD, kRootfs, O_PATH | O_DIRECTORY, 0);
    EXPECT_EQ(open_in_root(os, root, "/nope", 0, &error), -1);
    EXPECT_EQ(error.err, ENOENT);
    EXPECT_STREQ(error.message, "open `/nope` inside the rootfs: No such file or directory");
    os.close(root);
}

// ---- enter_rootfs ----------------------------------------------------------------------------

TEST_F(RootfsTest, EnterPivotsOntoItselfAndDetachesTheOldRoot) {
    ASSERT_EQ(enter_rootfs(os, plan, &error), 0) << error.message;
    std::vector<std::string> seq;
    for (const auto& c : os.calls)
        if (c.name != "openat" && c.name != "close") seq.push_back(c.name + " " + c.path + " " + c.source);
    EXPECT_EQ(seq, (std::vector<std::string>{"fchdir  ", "pivot_root . .", "fchdir  ", "mount . ", "umount2 . ",
                                             "chdir / "}))
        << os.trace();
    auto fchdir = os.named("fchdir");
    EXPECT_EQ(fchdir[0].resolved, kRootfs);  // into the new root for pivot_root(".", ".")
    EXPECT_EQ(fchdir[1].resolved, "/");      // then onto the old root stacked on top of it
    auto m = os.mounts();
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_SLAVE | MS_REC));  // nothing propagates to the host
    EXPECT_EQ(os.named("umount2")[0].flags, static_cast<uint64_t>(MNT_DETACH));
    EXPECT_TRUE(os.fds.empty());
}

TEST_F(RootfsTest, EnterAppliesRootfsPropagationLast) {
    plan.final_propagation = MS_SHARED | MS_REC;
    ASSERT_EQ(enter_rootfs(os, plan, &error), 0) << error.message;
    auto m = os.mounts();
    ASSERT_EQ(m.size(), 2u) << os.trace();
    EXPECT_EQ(m[1].path, "/");
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_SHARED | MS_REC));
    // After the old root is gone and we stand in the new one.
    EXPECT_EQ(os.named("chdir").back().path, "/");
    size_t chdir_at = 0, last_mount_at = 0;
    for (size_t i = 0; i < os.calls.size(); ++i) {
        if (os.calls[i].name == "chdir") chdir_at = i;
        if (os.calls[i].name == "mount") last_mount_at = i;
    }
    EXPECT_GT(last_mount_at, chdir_at);
}

TEST_F(RootfsTest, EnterWithoutPivotMovesTheRootfsAndChroots) {
    plan.no_pivot = true;
    ASSERT_EQ(enter_rootfs(os, plan, &error), 0) << error.message;
    ASSERT_EQ(os.calls.size(), 4u) << os.trace();
    EXPECT_EQ(os.calls[0].name, "chdir");
    EXPECT_EQ(os.calls[0].path, kRootfs);
    EXPECT_EQ(os.calls[1].name, "mount");
    EXPECT_EQ(os.calls[1].source, kRootfs);
    EXPECT_EQ(os.calls[1].path, "/");
    EXPECT_EQ(os.calls[1].flags, static_cast<uint64_t>(MS_MOVE));
    EXPECT_EQ(os.calls[2].name, "chroot");
    EXPECT_EQ(os.calls[2].path, ".");
    EXPECT_EQ(os.calls[3].name, "chdir");
    EXPECT_EQ(os.calls[3].path, "/");
    EXPECT_TRUE(os.named("pivot_root").empty());
}

TEST_F(RootfsTest, FailingPivotRootIsReported) {
    os.fail = [](const Call& c) { return c.name == "pivot_root" ? EINVAL : 0; };
    EXPECT_EQ(enter_rootfs(os, plan, &error), -1);
    EXPECT_EQ(error.err, EINVAL);
    EXPECT_STREQ(error.message, "pivot_root `/bundle/rootfs`: Invalid argument");
    EXPECT_TRUE(os.fds.empty());
}

// ---- finalize_rootfs (after the pivot: paths are the container's) -----------------------------

TEST_F(RootfsTest, MaskedDirectoryGetsAReadOnlyTmpfsAndMaskedFileDevNull) {
    os.add_file("/proc/kcore");
    os.add_file("/proc/keys");
    os.add_dir("/proc/acpi");
    os.fs["/dev/null"] = RecordingOs::Kind::device;
    os.rdevs["/dev/null"] = makedev(1, 3);
    plan.masked_paths = {"/proc/kcore", "/proc/missing", "/proc/acpi", "/proc/keys"};
    ASSERT_EQ(finalize_rootfs(os, plan, &error), 0) << error.message;
    EXPECT_TRUE(os.fds.empty()) << os.trace();
    auto m = os.mounts();
    ASSERT_EQ(m.size(), 1u) << os.trace();  // the missing path is skipped
    EXPECT_EQ(m[0].path, "/proc/acpi");
    EXPECT_EQ(m[0].type, "tmpfs");
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_RDONLY));
    // Files get a clone of the checked /dev/null mount, opened once.
    auto trees = os.named("open_tree");
    ASSERT_EQ(trees.size(), 2u) << os.trace();
    EXPECT_EQ(trees[0].resolved, "/dev/null");
    auto moved = os.named("move_mount");
    ASSERT_EQ(moved.size(), 2u);
    EXPECT_EQ(moved[0].path, "/proc/kcore");
    EXPECT_EQ(moved[0].source, "/dev/null");
    EXPECT_EQ(moved[1].path, "/proc/keys");
    size_t null_opens = 0;
    for (const auto& c : os.named("openat")) null_opens += c.path == "/dev/null";
    EXPECT_EQ(null_opens, 1u);
}

TEST_F(RootfsTest, MaskingRefusesADevNullThatIsNotTheNullDevice) {
    os.add_file("/proc/kcore");
    os.add_file("/dev/null");  // a plain file, as a rootfs might ship
    plan.masked_paths = {"/proc/kcore"};
    EXPECT_EQ(finalize_rootfs(os, plan, &error), -1);
    EXPECT_STREQ(error.message, "linux.maskedPaths: `/dev/null` in the container is not the null device (c 1:3)");
    EXPECT_TRUE(os.named("move_mount").empty());
    EXPECT_TRUE(os.fds.empty());
}

TEST_F(RootfsTest, MaskedPathStatErrorOtherThanEnoentIsReported) {
    os.add_file("/proc/kcore");
    plan.masked_paths = {"/proc/kcore"};
    os.fail = [](const Call& c) { return c.name == "fstatat" ? EACCES : 0; };
    EXPECT_EQ(finalize_rootfs(os, plan, &error), -1);
    EXPECT_STREQ(error.message, "linux.maskedPaths[0]: stat `/proc/kcore`: Permission denied");
}

TEST_F(RootfsTest, ReadonlyPathsAreBoundThenRemountedReadOnly) {
    os.add_dir("/proc/sys");
    plan.readonly_paths = {"/proc/nothere", "/proc/sys"};
    ASSERT_EQ(finalize_rootfs(os, plan, &error), 0) << error.message;
    auto m = os.mounts();
    ASSERT_EQ(m.size(), 3u) << os.trace();
    EXPECT_EQ(m[0].result, -1);  // ENOENT: skipped
    EXPECT_EQ(m[1].source, "/proc/sys");
    EXPECT_EQ(m[1].path, "/proc/sys");
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_BIND | MS_REC));
    EXPECT_EQ(m[2].resolved, "/proc/sys");
    EXPECT_EQ(m[2].flags & (MS_REMOUNT | MS_BIND | MS_RDONLY), static_cast<uint64_t>(MS_REMOUNT | MS_BIND | MS_RDONLY));
    EXPECT_TRUE(os.fds.empty());
}

TEST_F(RootfsTest, ReadonlyRootIsRemountedLast) {
    os.add_dir("/dev");
    plan.readonly = true;
    plan.setup_dev = true;
    add_mount("/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_RDONLY);
    ASSERT_EQ(finalize_rootfs(os, plan, &error), 0) << error.message;
    auto m = os.mounts();
    ASSERT_EQ(m.size(), 2u) << os.trace();
    // /dev becomes read-only now that its devices exist.
    EXPECT_EQ(m[0].path, "/dev");
    EXPECT_EQ(m[0].flags, static_cast<uint64_t>(MS_REMOUNT | MS_NOSUID | MS_RDONLY));
    EXPECT_EQ(m[1].resolved, "/");
    EXPECT_EQ(m[1].flags, static_cast<uint64_t>(MS_REMOUNT | MS_BIND | MS_RDONLY));
}

TEST_F(RootfsTest, SysctlsAreWrittenToProcSys) {
    TempDir tmp;
    os.add_file("/proc/sys/net/ipv4/ip_forward");
    os.real_files["/proc/sys/net/ipv4/ip_forward"] = tmp / "ip_forward";
    plan.sysctl = {{"/proc/sys/net/ipv4/ip_forward", "1"}};
    ASSERT_EQ(finalize_rootfs(os, plan, &error), 0) << error.message;
    EXPECT_EQ(slurp(tmp / "ip_forward"), "1");
    EXPECT_TRUE(os.fds.empty());
}

TEST_F(RootfsTest, MissingSysctlIsReportedWithItsPath) {
    plan.sysctl = {{"/proc/sys/net/nope", "1"}};
    EXPECT_EQ(finalize_rootfs(os, plan, &error), -1);
    EXPECT_EQ(error.err, ENOENT);
    EXPECT_STREQ(error.message, "linux.sysctl: open `/proc/sys/net/nope`: No such file or directory");
}

}  // namespace
}  // namespace kiln::container
