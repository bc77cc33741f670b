// Root filesystem setup inside init. Targets are opened with openat2(RESOLVE_IN_ROOT) and
// mounted through /proc/self/fd/N, so a symlink planted in the image can never redirect a mount
// onto the host (the runc CVE-2019-16884 / CVE-2021-30465 class).
#include "core/container/rootfs.hpp"

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace kiln::container {
namespace {

constexpr size_t kPathMax = 4096;

// An fd closed at scope exit, through Os.
class OsFd {
public:
    OsFd(Os& os, int fd) : os_(os), fd_(fd) {}
    OsFd(const OsFd&) = delete;
    OsFd& operator=(const OsFd&) = delete;
    ~OsFd() { reset(); }
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) os_.close(fd_);
        fd_ = fd;
    }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }

private:
    Os& os_;
    int fd_;
};

struct ProcPath {
    char buf[40];
    explicit ProcPath(int fd) { snprintf(buf, sizeof buf, "/proc/self/fd/%d", fd); }
    const char* c_str() const { return buf; }
};

const char* relative(const char* path) {
    while (*path == '/') ++path;
    return *path ? path : ".";
}

// The flags a remount may not drop inside a user namespace: the kernel locks them.
unsigned long locked_flags(Os& os, int fd) {
    unsigned long st = 0;
    if (os.fstatfs_flags(fd, &st) < 0) return 0;
    unsigned long out = 0;
    if (st & ST_NOSUID) out |= MS_NOSUID;
    if (st & ST_NODEV) out |= MS_NODEV;
    if (st & ST_NOEXEC) out |= MS_NOEXEC;
    if (st & ST_RDONLY) out |= MS_RDONLY;
    if (st & ST_NOATIME) out |= MS_NOATIME;
    if (st & ST_NODIRATIME) out |= MS_NODIRATIME;
    if (st & ST_RELATIME) out |= MS_RELATIME;
    return out;
}

// Remounts the bind mount at `fd` with `flags`; retried with the locked flags kept.
int remount_bind(Os& os, int fd, unsigned long flags, const char* what, InitError* e) {
    ProcPath p(fd);
    unsigned long base = MS_REMOUNT | MS_BIND;
    if (os.mount(nullptr, p.c_str(), nullptr, base | flags, nullptr) == 0) return 0;
    int err = errno;
    if (err == EPERM) {
        unsigned long keep = locked_flags(os, fd) & ~MS_RDONLY;
        if (os.mount(nullptr, p.c_str(), nullptr, base | flags | keep, nullptr) == 0) return 0;
        err = errno;
    }
    return init_fail(e, err, "remount `%s` with flags 0x%lx", what, flags);
}

// Opens `path` inside the root, creating it (mkdir -p, or an empty file) only when it is missing:
// most targets exist in an image, and one openat2 is then all it costs.
int ensure_in_root(Os& os, int rootfd, const char* path, bool file, int flags, InitError* e) {
    int fd = os.openat2(rootfd, relative(path), O_PATH | O_CLOEXEC | flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0 || errno != ENOENT) return fd >= 0 ? fd : init_fail(e, errno, "open `%s` inside the rootfs", path);
    if (make_in_root(os, rootfd, path, file, e) < 0) return -1;
    return open_in_root(os, rootfd, path, flags, e);
}

const unsigned long kRemountFlags =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

int mount_cgroup_tree(Os& os, int rootfd, const MountStep& m, const RootfsPlan& plan, InitError* e) {
    OsFd dir(os, open_in_root(os, rootfd, m.destination.c_str(), O_DIRECTORY, e));
    if (dir.get() < 0) return -1;
    unsigned long sub_flags = m.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME | MS_RDONLY);
    char target[kPathMax];
    for (const auto& c : plan.cgroup_mounts) {
        snprintf(target, sizeof target, "%s/%s", m.destination.c_str(), c.name.c_str());
        OsFd t(os, ensure_in_root(os, rootfd, target, false, O_DIRECTORY, e));
        if (t.get() < 0) return -1;
        ProcPath tp(t.get());
        // With a cgroup namespace the kernel shows the container's cgroup as the root of a fresh
        // mount; without one (or where that is refused) the container's directory is bound.
        int r = -1;
        if (plan.own_cgroupns)
            r = os.mount(c.fstype.c_str(), tp.c_str(), c.fstype.c_str(), sub_flags,
                         c.options.empty() ? nullptr : c.options.c_str());
        if (r < 0) {
            if (os.mount(c.host_dir.c_str(), tp.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
                return init_fail(e, errno, "%s: bind cgroup `%s` to `%s`", m.field.c_str(), c.host_dir.c_str(), target);
            t.reset(open_in_root(os, rootfd, target, O_DIRECTORY, e));
            if (t.get() < 0) return -1;
            if (sub_flags && remount_bind(os, t.get(), sub_flags, target, e) < 0) return -1;
        }
        for (const auto& link : c.links) {
            if (os.symlinkat(c.name.c_str(), dir.get(), link.c_str()) < 0 && errno != EEXIST)
                return init_fail(e, errno, "%s: symlink `%s/%s`", m.field.c_str(), m.destination.c_str(), link.c_str());
        }
    }
    if (m.flags & MS_RDONLY) {
        // The tmpfs holding the hierarchies becomes read-only once they are in place.
        OsFd top(os, open_in_root(os, rootfd, m.destination.c_str(), O_DIRECTORY, e));
        if (top.get() < 0) return -1;
        ProcPath tp(top.get());
        if (os.mount(nullptr, tp.c_str(), nullptr, MS_REMOUNT | (m.flags & kRemountFlags), nullptr) < 0)
            return init_fail(e, errno, "%s: remount `%s` read-only", m.field.c_str(), m.destination.c_str());
    }
    return 0;
}

struct Dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

// Copies the directory tree at `src` into `dst` (tmpcopyup): files, symlinks, device nodes and
// fifos, with modes and owners. Recursion is bounded; buffers live on the stack.
int copy_tree(int src, int dst, const char* where, int depth, InitError* e) {
    if (depth > 64) return init_fail(e, ELOOP, "tmpcopyup: `%s` is nested too deeply", where);
    alignas(8) char buf[8192];
    for (;;) {
        long n = ::syscall(SYS_getdents64, src, buf, sizeof buf);
        if (n < 0) return init_fail(e, errno, "tmpcopyup: read directory `%s`", where);
        if (n == 0) return 0;
        for (long off = 0; off < n;) {
            auto* d = reinterpret_cast<Dirent64*>(buf + off);
            off += d->d_reclen;
            const char* name = d->d_name;
            if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
            struct stat st;
            if (::fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return init_fail(e, errno, "tmpcopyup: stat `%s/%s`", where, name);
            if (S_ISDIR(st.st_mode)) {
                if (::mkdirat(dst, name, st.st_mode & 07777) < 0 && errno != EEXIST)
                    return init_fail(e, errno, "tmpcopyup: mkdir `%s/%s`", where, name);
                int s2 = ::openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int d2 = ::openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r = (s2 < 0 || d2 < 0) ? init_fail(e, errno, "tmpcopyup: open `%s/%s`", where, name)
                                          : copy_tree(s2, d2, name, depth + 1, e);
                if (s2 >= 0) ::close(s2);
                if (d2 >= 0) ::close(d2);
                if (r < 0) return -1;
            } else if (S_ISREG(st.st_mode)) {
                int in = ::openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (in < 0) return init_fail(e, errno, "tmpcopyup: open `%s/%s`", where, name);
                int out = ::openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 07777);
                if (out < 0) {
                    ::close(in);
                    return init_fail(e, errno, "tmpcopyup: create `%s/%s`", where, name);
                }
                off_t left = st.st_size;
                while (left > 0) {
                    ssize_t c = ::sendfile(out, in, nullptr, static_cast<size_t>(left));
                    if (c <= 0) break;
                    left -= c;
                }
                ::close(in);
                ::close(out);
                if (left > 0) return init_fail(e, EIO, "tmpcopyup: copy `%s/%s`", where, name);
            } else if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t len = ::readlinkat(src, name, target, sizeof target - 1);
                if (len < 0) return init_fail(e, errno, "tmpcopyup: readlink `%s/%s`", where, name);
                target[len] = 0;
                if (::symlinkat(target, dst, name) < 0)
                    return init_fail(e, errno, "tmpcopyup: symlink `%s/%s`", where, name);
            } else if (::mknodat(dst, name, st.st_mode, st.st_rdev) < 0) {
                return init_fail(e, errno, "tmpcopyup: mknod `%s/%s`", where, name);
            }
            if (::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EINVAL)
                return init_fail(e, errno, "tmpcopyup: chown `%s/%s`", where, name);
        }
    }
}

int mount_step(Os& os, int rootfd, const MountStep& m, const RootfsPlan& plan, InitError* e) {
    const char* dest = m.destination.c_str();
    bool file_target = false;
    if (m.bind) {
        struct stat st;
        if (os.fstatat(AT_FDCWD, m.source.c_str(), &st, 0) < 0)
            return init_fail(e, errno, "%s: stat `%s`", m.field.c_str(), m.source.c_str());
        file_target = !S_ISDIR(st.st_mode);
    }
    OsFd target(os, ensure_in_root(os, rootfd, dest, file_target, 0, e));
    if (target.get() < 0) return -1;
    ProcPath tp(target.get());

    // A read-only /dev is made read-only after its devices exist (finalize_rootfs).
    unsigned long flags = m.flags;
    if (plan.setup_dev && m.destination == "/dev") flags &= ~MS_RDONLY;
    // Likewise the tmpfs holding the cgroup hierarchies, or a tmpfs that gets a copy of what it
    // covers: read-only once filled.
    if (m.cgroup_tree || m.tmpcopyup) flags &= ~MS_RDONLY;
    // What a tmpcopyup mount covers stays reachable through an fd opened before it.
    OsFd covered(os, -1);
    if (m.tmpcopyup) {
        covered.reset(os.openat2(rootfd, relative(dest), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
        if (covered.get() < 0) return init_fail(e, errno, "%s: open `%s` for tmpcopyup", m.field.c_str(), dest);
    }

    if (m.bind) {
        if (m.idmap) {
            OsFd tree(os, m.tree_fd);
            if (tree.get() < 0) {
                unsigned tree_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (m.recursive ? AT_RECURSIVE : 0);
                tree.reset(os.open_tree(AT_FDCWD, m.source.c_str(), tree_flags));
                if (tree.get() < 0) return init_fail(e, errno, "%s: open_tree `%s`", m.field.c_str(), m.source.c_str());
                unsigned attr_flags = AT_EMPTY_PATH | (m.idmap_recursive ? AT_RECURSIVE : 0);
                if (os.mount_setattr(tree.get(), "", attr_flags, MOUNT_ATTR_IDMAP, 0, 0, m.idmap_userns_fd) < 0)
                    return init_fail(e, errno, "%s: idmap `%s`", m.field.c_str(), m.source.c_str());
            }
            if (os.move_mount(tree.get(), "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return init_fail(e, errno, "%s: move_mount `%s` to `%s`", m.field.c_str(), m.source.c_str(), dest);
        } else if (os.mount(m.source.c_str(), tp.c_str(), nullptr, MS_BIND | (m.recursive ? MS_REC : 0), nullptr) < 0) {
            return init_fail(e, errno, "%s: bind `%s` to `%s`", m.field.c_str(), m.source.c_str(), dest);
        }
        if (flags & kRemountFlags) {
            // The bind mount now covers the target: open it again to reach the new mount.
            target.reset(open_in_root(os, rootfd, dest, 0, e));
            if (target.get() < 0) return -1;
            if (remount_bind(os, target.get(), flags & kRemountFlags, dest, e) < 0) return -1;
        }
    } else {
        const char* data = m.data.empty() ? nullptr : m.data.c_str();
        if (os.mount(m.source.c_str(), tp.c_str(), m.type.c_str(), flags, data) < 0) {
            int err = errno;
            // Without its own network (sysfs) or IPC (mqueue) namespace a container may not
            // mount these afresh inside a user namespace; the host's are bound instead, as runc does.
            const char* fallback = nullptr;
            if (err == EPERM && m.type == "sysfs") fallback = "/sys";
            if (err == EPERM && m.type == "mqueue") fallback = "/dev/mqueue";
            if (!fallback || os.mount(fallback, tp.c_str(), nullptr, MS_BIND | MS_REC, nullptr) < 0)
                return init_fail(e, err, "%s: mount `%s` (%s) to `%s`", m.field.c_str(), m.source.c_str(),
                                 m.type.c_str(), dest);
            target.reset(open_in_root(os, rootfd, dest, 0, e));
            if (target.get() < 0) return -1;
            if ((flags & kRemountFlags) && remount_bind(os, target.get(), flags & kRemountFlags, dest, e) < 0)
                return -1;
        }
        if (m.cgroup_tree && mount_cgroup_tree(os, rootfd, m, plan, e) < 0) return -1;
        if (m.tmpcopyup) {
            OsFd fresh(os, os.openat2(rootfd, relative(dest), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0,
                                      RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS));
            if (fresh.get() < 0) return init_fail(e, errno, "%s: open `%s`", m.field.c_str(), dest);
            struct stat st;
            if (::fstat(covered.get(), &st) == 0) {
                ::fchmod(fresh.get(), st.st_mode & 07777);
                ::fchown(fresh.get(), st.st_uid, st.st_gid);
            }
            if (copy_tree(covered.get(), fresh.get(), dest, 0, e) < 0) return -1;
            if (m.flags & MS_RDONLY) {
                ProcPath fp(fresh.get());
                if (os.mount(nullptr, fp.c_str(), nullptr, MS_REMOUNT | (m.flags & kRemountFlags), nullptr) < 0)
                    return init_fail(e, errno, "%s: remount `%s` read-only", m.field.c_str(), dest);
            }
        }
    }
    if (m.propagation.empty() && !m.attr_set && !m.attr_clr) return 0;
    target.reset(open_in_root(os, rootfd, dest, 0, e));
    if (target.get() < 0) return -1;
    ProcPath mp(target.get());
    for (unsigned long p : m.propagation)
        if (os.mount(nullptr, mp.c_str(), nullptr, p, nullptr) < 0)
            return init_fail(e, errno, "%s: set propagation 0x%lx on `%s`", m.field.c_str(), p, dest);
    if ((m.attr_set || m.attr_clr) &&
        os.mount_setattr(target.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, m.attr_set, m.attr_clr, 0, -1) < 0)
        return init_fail(e, errno, "%s: mount_setattr on `%s`", m.field.c_str(), dest);
    return 0;
}

int make_device(Os& os, int rootfd, const DeviceNode& d, bool bind, InitError* e) {
    const char* path = d.path.c_str();
    const char* slash = strrchr(path, '/');
    char parent[kPathMax];
    size_t plen = static_cast<size_t>(slash - path);
    if (plen >= sizeof parent) return init_fail(e, ENAMETOOLONG, "%s: `%s`", d.field.c_str(), path);
    memcpy(parent, path, plen);
    parent[plen] = 0;
    if (plen == 0) strcpy(parent, "/");
    OsFd dir(os, ensure_in_root(os, rootfd, parent, false, O_DIRECTORY, e));
    if (dir.get() < 0) return -1;
    const char* name = slash + 1;
    if (bind) {
        // mknod is not allowed in a user namespace: bind the host's node onto an empty file.
        OsFd t(os, ensure_in_root(os, rootfd, path, true, 0, e));
        if (t.get() < 0) return -1;
        ProcPath tp(t.get());
        if (os.mount(path, tp.c_str(), nullptr, MS_BIND, nullptr) < 0)
            return init_fail(e, errno, "%s: bind device `%s`", d.field.c_str(), path);
        return 0;
    }
    if (os.mknodat(dir.get(), name, d.mode, d.dev) < 0) {
        if (errno != EEXIST) return init_fail(e, errno, "%s: mknod `%s`", d.field.c_str(), path);
        // The rootfs has something there already: kept when it is this device, replaced when it
        // is anything else (a file or a link where /dev/null should be would stand in for it).
        struct stat st;
        if (os.fstatat(dir.get(), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return init_fail(e, errno, "%s: stat `%s`", d.field.c_str(), path);
        if ((st.st_mode & S_IFMT) == (d.mode & S_IFMT) && st.st_rdev == d.dev) return 0;
        if (S_ISDIR(st.st_mode)) return init_fail(e, EISDIR, "%s: `%s` in the rootfs", d.field.c_str(), path);
        if (os.unlinkat(dir.get(), name, 0) < 0) return init_fail(e, errno, "%s: remove `%s`", d.field.c_str(), path);
        if (os.mknodat(dir.get(), name, d.mode, d.dev) < 0)
            return init_fail(e, errno, "%s: mknod `%s`", d.field.c_str(), path);
    }
    if (d.chown && os.fchownat(dir.get(), name, d.uid, d.gid, AT_SYMLINK_NOFOLLOW) < 0)
        return init_fail(e, errno, "%s: chown `%s` to %u:%u", d.field.c_str(), path, d.uid, d.gid);
    return 0;
}

int setup_dev_links(Os& os, int rootfd, InitError* e) {
    OsFd dev(os, open_in_root(os, rootfd, "/dev", O_DIRECTORY, e));
    if (dev.get() < 0) return -1;
    static const struct {
        const char* target;
        const char* name;
    } links[] = {{"/proc/self/fd", "fd"},
                 {"/proc/self/fd/0", "stdin"},
                 {"/proc/self/fd/1", "stdout"},
                 {"/proc/self/fd/2", "stderr"}};
    for (const auto& l : links)
        if (os.symlinkat(l.target, dev.get(), l.name) < 0 && errno != EEXIST)
            return init_fail(e, errno, "symlink `/dev/%s` -> `%s`", l.name, l.target);
    // /dev/ptmx must be the container's own devpts instance.
    struct stat st;
    if (os.fstatat(dev.get(), "pts/ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (os.fstatat(dev.get(), "ptmx", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode)) {
            // A device node or file left by the image: replace it.
            if (os.unlinkat(dev.get(), "ptmx", 0) < 0) return init_fail(e, errno, "unlink `/dev/ptmx`");
        }
        if (os.symlinkat("pts/ptmx", dev.get(), "ptmx") < 0 && errno != EEXIST)
            return init_fail(e, errno, "symlink `/dev/ptmx` -> `pts/ptmx`");
    }
    return 0;
}

}  // namespace

int open_in_root(Os& os, int rootfd, const char* path, int flags, InitError* e) noexcept {
    int fd = os.openat2(rootfd, relative(path), O_PATH | O_CLOEXEC | flags, 0,
                        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) return init_fail(e, errno, "open `%s` inside the rootfs", path);
    return fd;
}

// mkdir -p inside the root. A component that is a symlink pointing at something missing has its
// target created instead (resolved inside the root, like everything here), so an image's
// /var/run -> /run link works as a mount target.
static int make_in_root_at(Os& os, int rootfd, const char* path, bool file, int depth, InitError* e) noexcept {
    if (depth > 40) return init_fail(e, ELOOP, "`%s` inside the rootfs", path);
    char buf[kPathMax];
    size_t len = strlen(path);
    if (len >= sizeof buf) return init_fail(e, ENAMETOOLONG, "`%s`", path);
    memcpy(buf, path, len + 1);
    size_t i = 0;
    while (buf[i] == '/') ++i;
    int parent = os.openat2(rootfd, ".", O_PATH | O_CLOEXEC | O_DIRECTORY, 0, RESOLVE_IN_ROOT);
    if (parent < 0) return init_fail(e, errno, "open the rootfs");
    OsFd parent_fd(os, parent);
    while (buf[i]) {
        size_t start = i;
        while (buf[i] && buf[i] != '/') ++i;
        bool last = true;
        for (size_t k = i; buf[k]; ++k)
            if (buf[k] != '/') last = false;
        char saved = buf[i];
        buf[i] = 0;
        const char* name = buf + start;
        struct stat st;
        bool exists = os.fstatat(parent_fd.get(), name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (!exists) {
            if (last && file) {
                int fd = os.openat(parent_fd.get(), name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
                if (fd < 0 && errno != EEXIST) return init_fail(e, errno, "create `%s` inside the rootfs", buf);
                if (fd >= 0) os.close(fd);
            } else if (os.mkdirat(parent_fd.get(), name, 0755) < 0 && errno != EEXIST) {
                return init_fail(e, errno, "mkdir `%s` inside the rootfs", buf);
            }
        }
        int next = os.openat2(rootfd, relative(buf), O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (next < 0 && errno == ENOENT && exists && S_ISLNK(st.st_mode)) {
            // Create what the link points at, then go on from the link.
            char target[kPathMax];
            ssize_t n = os.readlinkat(parent_fd.get(), name, target, sizeof target - 1);
            if (n < 0) return init_fail(e, errno, "readlink `%s` inside the rootfs", buf);
            target[n] = 0;
            char resolved[kPathMax];
            int w;
            if (target[0] == '/') {
                w = snprintf(resolved, sizeof resolved, "%s", target);
            } else {
                char first = buf[start];
                buf[start] = 0;  // the parent path
                w = snprintf(resolved, sizeof resolved, "%s/%s", buf, target);
                buf[start] = first;
            }
            if (w < 0 || static_cast<size_t>(w) >= sizeof resolved)
                return init_fail(e, ENAMETOOLONG, "symlink `%s` inside the rootfs", buf);
            if (make_in_root_at(os, rootfd, resolved, last && file, depth + 1, e) < 0) return -1;
            next = os.openat2(rootfd, relative(buf), O_PATH | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        }
        if (next < 0) return init_fail(e, errno, "open `%s` inside the rootfs", buf);
        parent_fd.reset(next);
        buf[i] = saved;
        while (buf[i] == '/') ++i;
    }
    return 0;
}

int make_in_root(Os& os, int rootfd, const char* path, bool file, InitError* e) noexcept {
    return make_in_root_at(os, rootfd, path, file, 0, e);
}

int prepare_rootfs(Os& os, const RootfsPlan& plan, InitError* e) noexcept {
    // Nothing mounted from here on propagates back to the host (unless asked for).
    if (os.mount(nullptr, "/", nullptr, plan.propagation, nullptr) < 0)
        return init_fail(e, errno, "set propagation 0x%lx on `/`", plan.propagation);
    if (!plan.parent_mount.empty() &&
        os.mount(nullptr, plan.parent_mount.c_str(), nullptr, MS_PRIVATE, nullptr) < 0)
        return init_fail(e, errno, "make `%s` private", plan.parent_mount.c_str());
    // pivot_root needs the new root to be a mount point.
    const char* rootfs = plan.rootfs.c_str();
    if (os.mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr) < 0)
        return init_fail(e, errno, "bind rootfs `%s` onto itself", rootfs);
    OsFd root(os, os.openat(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    if (root.get() < 0) return init_fail(e, errno, "open rootfs `%s`", rootfs);
    for (const auto& m : plan.mounts)
        if (mount_step(os, root.get(), m, plan, e) < 0) return -1;
    if (plan.setup_dev) {
        if (make_in_root(os, root.get(), "/dev", false, e) < 0) return -1;
        for (const auto& d : plan.devices)
            if (make_device(os, root.get(), d, plan.bind_devices, e) < 0) return -1;
        if (setup_dev_links(os, root.get(), e) < 0) return -1;
    } else {
        for (const auto& d : plan.devices)
            if (make_device(os, root.get(), d, plan.bind_devices, e) < 0) return -1;
    }
    if (!plan.cwd.empty() && make_in_root(os, root.get(), plan.cwd.c_str(), false, e) < 0) {
        // Say which field led here: "process.cwd: open `/proc/self/fd/7` inside the rootfs: ...".
        static const char prefix[] = "process.cwd: ";
        size_t len = strnlen(e->message, sizeof e->message - sizeof prefix);
        memmove(e->message + sizeof prefix - 1, e->message, len);
        memcpy(e->message, prefix, sizeof prefix - 1);
        e->message[len + sizeof prefix - 1] = 0;
        return -1;
    }
    return 0;
}

int enter_rootfs(Os& os, const RootfsPlan& plan, InitError* e) noexcept {
    const char* rootfs = plan.rootfs.c_str();
    if (plan.no_pivot) {
        if (os.chdir(rootfs) < 0) return init_fail(e, errno, "chdir `%s`", rootfs);
        if (os.mount(rootfs, "/", nullptr, MS_MOVE, nullptr) < 0) return init_fail(e, errno, "move `%s` to `/`", rootfs);
        if (os.chroot(".") < 0) return init_fail(e, errno, "chroot `%s`", rootfs);
        if (os.chdir("/") < 0) return init_fail(e, errno, "chdir `/`");
        return 0;
    }
    OsFd oldroot(os, os.openat(AT_FDCWD, "/", O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0));
    if (oldroot.get() < 0) return init_fail(e, errno, "open `/`");
    OsFd newroot(os, os.openat(AT_FDCWD, rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0));
    if (newroot.get() < 0) return init_fail(e, errno, "open `%s`", rootfs);
    // pivot_root(".", ".") stacks the old root on top of the new one, with no directory needed
    // inside the image for it; it is then detached from where we stand.
    if (os.fchdir(newroot.get()) < 0) return init_fail(e, errno, "chdir `%s`", rootfs);
    if (os.pivot_root(".", ".") < 0) return init_fail(e, errno, "pivot_root `%s`", rootfs);
    if (os.fchdir(oldroot.get()) < 0) return init_fail(e, errno, "chdir to the old root");
    if (os.mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
        return init_fail(e, errno, "make the old root a slave");
    if (os.umount2(".", MNT_DETACH) < 0) return init_fail(e, errno, "detach the old root");
    if (os.chdir("/") < 0) return init_fail(e, errno, "chdir `/`");
    if (plan.final_propagation && os.mount(nullptr, "/", nullptr, plan.final_propagation, nullptr) < 0)
        return init_fail(e, errno, "linux.rootfsPropagation: set propagation 0x%lx on `/`", plan.final_propagation);
    return 0;
}

// The container's /dev/null, checked to be the null device before it is bound over masked files:
// whatever else a rootfs or a mount put there would be shown in their place.
int open_dev_null(Os& os, InitError* e) {
    OsFd fd(os, os.openat(AT_FDCWD, "/dev/null", O_PATH | O_NOFOLLOW | O_CLOEXEC, 0));
    if (fd.get() < 0) return init_fail(e, errno, "linux.maskedPaths: open `/dev/null`");
    struct stat st;
    if (os.fstatat(fd.get(), "", &st, AT_EMPTY_PATH) < 0) return init_fail(e, errno, "linux.maskedPaths: stat `/dev/null`");
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
        return init_fail(e, 0, "linux.maskedPaths: `/dev/null` in the container is not the null device (c 1:3)");
    return fd.release();
}

int finalize_rootfs(Os& os, const RootfsPlan& plan, InitError* e) noexcept {
    for (const auto& [path, value] : plan.sysctl) {
        int fd = os.openat(AT_FDCWD, path.c_str(), O_WRONLY | O_CLOEXEC, 0);
        if (fd < 0) return init_fail(e, errno, "linux.sysctl: open `%s`", path.c_str());
        ssize_t n = os.write(fd, value.data(), value.size());
        int err = errno;
        os.close(fd);
        if (n < 0) return init_fail(e, err, "linux.sysctl: write `%s` to `%s`", value.c_str(), path.c_str());
    }
    for (size_t i = 0; i < plan.readonly_paths.size(); ++i) {
        const char* p = plan.readonly_paths[i].c_str();
        if (os.mount(p, p, nullptr, MS_BIND | MS_REC, nullptr) < 0) {
            if (errno == ENOENT) continue;
            return init_fail(e, errno, "linux.readonlyPaths[%zu]: bind `%s`", i, p);
        }
        OsFd fd(os, os.openat(AT_FDCWD, p, O_PATH | O_CLOEXEC, 0));
        if (fd.get() < 0) return init_fail(e, errno, "linux.readonlyPaths[%zu]: open `%s`", i, p);
        if (remount_bind(os, fd.get(), MS_RDONLY | MS_REC, p, e) < 0) return -1;
    }
    OsFd null(os, -1);
    for (size_t i = 0; i < plan.masked_paths.size(); ++i) {
        const char* p = plan.masked_paths[i].c_str();
        struct stat st;
        if (os.fstatat(AT_FDCWD, p, &st, 0) < 0) {
            if (errno == ENOENT) continue;
            return init_fail(e, errno, "linux.maskedPaths[%zu]: stat `%s`", i, p);
        }
        if (S_ISDIR(st.st_mode)) {
            if (os.mount("tmpfs", p, "tmpfs", MS_RDONLY, nullptr) < 0)
                return init_fail(e, errno, "linux.maskedPaths[%zu]: mask `%s`", i, p);
            continue;
        }
        if (null.get() < 0) {
            null.reset(open_dev_null(os, e));
            if (null.get() < 0) return -1;
        }
        // A copy of that very mount, moved over the file: no path is looked up twice.
        OsFd tree(os, os.open_tree(null.get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH));
        if (tree.get() < 0 || os.move_mount(tree.get(), "", AT_FDCWD, p, MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return init_fail(e, errno, "linux.maskedPaths[%zu]: mask `%s`", i, p);
    }
    for (const auto& m : plan.mounts) {
        if (!(plan.setup_dev && m.destination == "/dev" && (m.flags & MS_RDONLY))) continue;
        if (os.mount(nullptr, "/dev", nullptr, MS_REMOUNT | (m.flags & kRemountFlags), nullptr) < 0)
            return init_fail(e, errno, "%s: remount `/dev` read-only", m.field.c_str());
    }
    if (plan.readonly) {
        OsFd fd(os, os.openat(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0));
        if (fd.get() < 0) return init_fail(e, errno, "open `/`");
        if (remount_bind(os, fd.get(), MS_RDONLY, "/", e) < 0) return -1;
    }
    return 0;
}

}  // namespace kiln::container
