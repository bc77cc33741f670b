// Layer unpacking. libarchive decompresses and parses the tar stream; every file system change is
// made here with *at() calls relative to directory fds opened one component at a time with
// O_NOFOLLOW, so an entry can never reach outside the snapshot, whatever the layer holds.
//
// Two libarchive readers are chained: the outer one only decompresses ("raw" format), the inner
// one parses tar from the outer's output. The bytes between them are hashed, which yields the
// diff id to check against the image config without a second pass over the blob.
#include "core/image/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/limits.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/image/digest.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kStreamBuffer = 128 * 1024;
constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";
constexpr const char* kOverlayOpaque = "trusted.overlay.opaque";

struct ArchiveFree {
    void operator()(struct archive* a) const noexcept { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;

std::string archive_error(struct archive* a) {
    const char* s = archive_error_string(a);
    return s ? s : "unknown libarchive error";
}

// The decompressed layer as the tar reader pulls it.
struct Decompressed {
    struct archive* outer = nullptr;
    Sha256 hash;
    std::vector<char> buf = std::vector<char>(kStreamBuffer);
    std::string error;  // why the stream failed, when it did
};

// libarchive callback: no exception may cross it.
la_ssize_t read_decompressed(struct archive* inner, void* opaque, const void** out) {
    auto* s = static_cast<Decompressed*>(opaque);
    try {
        la_ssize_t n = archive_read_data(s->outer, s->buf.data(), s->buf.size());
        if (n < 0) {
            s->error = archive_error(s->outer);
            archive_set_error(inner, EIO, "%s", s->error.c_str());
            return -1;
        }
        s->hash.update(s->buf.data(), static_cast<std::size_t>(n));
        *out = s->buf.data();
        return n;
    } catch (const std::exception& e) {
        s->error = e.what();
    } catch (...) {
        s->error = "unexpected error";
    }
    archive_set_error(inner, EIO, "%s", s->error.c_str());
    return -1;
}

// Device nodes in a snapshot are real devices on the host once the layer is mounted; only a
// caller that could mknod them anyway (root of the initial user namespace) gets them. Read each
// time: device entries are rare, and the answer is the calling process's.
bool may_create_devices() {
    if (::geteuid() != 0) return false;
    auto map = read_file_if_exists("/proc/self/uid_map");
    if (!map) return false;
    unsigned long inside = 1, outside = 1, count = 0;
    return std::sscanf(map->c_str(), "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 && outside == 0 &&
           count == 4294967295UL;
}

std::string join(const std::vector<std::string>& comps, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) out += '/';
        out += comps[i];
    }
    return out;
}

std::string proc_path(int dirfd, const std::string& name) {
    return "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
}

struct Times {
    std::array<struct timespec, 2> ts;
};

Times times_of(struct archive_entry* e) {
    Times t;
    if (archive_entry_mtime_is_set(e))
        t.ts[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    else
        t.ts[1] = {0, UTIME_OMIT};
    if (archive_entry_atime_is_set(e))
        t.ts[0] = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
    else
        t.ts[0] = t.ts[1];
    return t;
}

constexpr std::size_t kShownName = 200;

class Extractor {
public:
    Extractor(int root, const std::string& layer, const std::string& stream_error)
        : root_(root), layer_(layer), stream_error_(stream_error) {}

    void entry(struct archive* a, struct archive_entry* e) {
        const char* raw = archive_entry_pathname(e);
        if (!raw) raw = archive_entry_pathname_utf8(e);
        name_ = raw ? raw : "";
        std::vector<std::string> comps = components(name_, "name");
        const char* link = archive_entry_hardlink(e);
        if (comps.empty()) return root_entry(e, link != nullptr);

        const std::string& base = comps.back();
        if (std::string_view(base).starts_with(kWhiteoutPrefix)) return whiteout(comps);
        int dir = parent_dir(comps);
        if (link) return hard_link(link, dir, comps);

        switch (archive_entry_filetype(e)) {
            case AE_IFREG: return regular(a, e, dir, base);
            case AE_IFDIR: return directory(e, dir, comps);
            case AE_IFLNK: return symlink(e, dir, base);
            case AE_IFCHR:
            case AE_IFBLK:
                // Inside a user namespace they are skipped, as rootless podman and containerd skip
                // them: the kernel would refuse them, and a runtime gives /dev its own devices.
                if (!may_create_devices()) return;
                return special(e, dir, base);
            case AE_IFIFO: return special(e, dir, base);
            default: refuse("unsupported entry type " + std::to_string(archive_entry_filetype(e)));
        }
    }

    // Directory times last: creating anything inside a directory changes its mtime.
    void finish() {
        for (const auto& [comps, times] : dir_times_) {
            if (comps.empty()) {
                if (::futimens(root_, times.ts.data()) < 0) sys_fail("futimens");
                continue;
            }
            Fd dir;
            try {
                dir = walk(comps, comps.size(), false);
            } catch (const Error&) {
                continue;  // a later entry replaced the directory with something else
            }
            if (dir && ::futimens(dir.get(), times.ts.data()) < 0) sys_fail("futimens");
        }
    }

private:
    // The entry's name as errors show it: a hostile name may be megabytes long.
    std::string shown_name() const {
        return name_.size() <= kShownName ? name_ : name_.substr(0, kShownName) + "...";
    }
    [[noreturn]] void refuse(const std::string& why) const {
        invalid(layer_ + ": entry \"" + shown_name() + "\": " + why);
    }
    [[noreturn]] void sys_fail(const std::string& call) const {
        throw SysError(errno, call, layer_ + ": entry \"" + shown_name() + "\"");
    }

    // The path's components without "." and empty ones. `what` says which path of the entry it is.
    std::vector<std::string> components(const std::string& path, const std::string& what) const {
        if (path.empty()) refuse("empty " + what);
        if (path.front() == '/') refuse(what + " is absolute");
        if (path.size() >= PATH_MAX)
            refuse(what + " is " + std::to_string(path.size()) + " bytes long, more than a path may be (" +
                   std::to_string(PATH_MAX - 1) + ")");
        std::vector<std::string> comps;
        std::size_t start = 0;
        while (start <= path.size()) {
            std::size_t slash = path.find('/', start);
            if (slash == std::string::npos) slash = path.size();
            std::string comp = path.substr(start, slash - start);
            if (comp == "..") refuse(what + " has a \"..\" component");
            if (comp.size() > NAME_MAX)
                refuse(what + " has a component of " + std::to_string(comp.size()) + " bytes, more than a file name may be (" +
                       std::to_string(NAME_MAX) + ")");
            if (!comp.empty() && comp != ".") comps.push_back(std::move(comp));
            start = slash + 1;
        }
        return comps;
    }

    // Opens the directory made of the first `n` components, beneath the snapshot root and never
    // through a symlink. Missing directories are created when `create`; otherwise a missing one
    // yields an empty Fd.
    Fd walk(const std::vector<std::string>& comps, std::size_t n, bool create) const {
        Fd cur;
        int at = root_;
        for (std::size_t i = 0; i < n; ++i) {
            int fd = ::openat(at, comps[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 && errno == ENOENT && create) {
                // Layers may leave out directories that a lower layer has; overlayfs shows the
                // lower one's metadata only if this layer has none, so 0755 root matches Docker.
                if (::mkdirat(at, comps[i].c_str(), 0755) < 0 && errno != EEXIST) sys_fail("mkdirat");
                if (::fchmodat(at, comps[i].c_str(), 0755, 0) < 0) sys_fail("fchmodat");
                fd = ::openat(at, comps[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (fd < 0) {
                int err = errno;
                std::string prefix = join(comps, i + 1);
                if (err == ENOENT && !create) return Fd();
                if (err == ELOOP || err == ENOTDIR) {
                    struct stat st;
                    if (::fstatat(at, comps[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                        refuse("path goes through the symlink \"" + prefix + "\"");
                    refuse("\"" + prefix + "\" is not a directory");
                }
                errno = err;
                sys_fail("openat " + prefix);
            }
            cur = Fd(fd);
            at = fd;
        }
        if (!cur) {
            int fd = ::fcntl(root_, F_DUPFD_CLOEXEC, 0);
            if (fd < 0) sys_fail("fcntl F_DUPFD_CLOEXEC");
            cur = Fd(fd);
        }
        return cur;
    }

    // The directory the entry goes into, created if the layer did not list it. The last one is
    // kept open: tar entries come grouped by directory.
    int parent_dir(const std::vector<std::string>& comps) {
        std::string key = join(comps, comps.size() - 1);
        if (!cached_dir_ || key != cached_key_) {
            cached_dir_ = walk(comps, comps.size() - 1, true);
            cached_key_ = key;
        }
        return cached_dir_.get();
    }

    // A later entry for the same path replaces the earlier one, as tar extraction does; a
    // directory over a directory only updates its metadata. Returns true if a directory stays.
    bool make_room(int dir, const std::string& base, bool for_directory) {
        struct stat st;
        if (::fstatat(dir, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) return false;
            sys_fail("fstatat");
        }
        if (S_ISDIR(st.st_mode)) {
            if (for_directory) return true;
            std::error_code ec;
            std::filesystem::remove_all(proc_path(dir, base), ec);
            if (ec) {
                errno = ec.value();
                sys_fail("remove");
            }
            // The cached fd may have been inside what was just removed.
            if (cached_dir_.get() != dir) cached_dir_.reset();
            return false;
        }
        if (::unlinkat(dir, base.c_str(), 0) < 0) sys_fail("unlinkat");
        return false;
    }

    void whiteout(const std::vector<std::string>& comps) {
        const std::string& base = comps.back();
        int dir = parent_dir(comps);
        if (base == kOpaqueWhiteout) {
            // Hides what lower layers have in this directory, but not this layer's own entries.
            if (::fsetxattr(dir, kOverlayOpaque, "y", 1, 0) < 0) sys_fail(std::string("fsetxattr ") + kOverlayOpaque);
            return;
        }
        // Other .wh..wh. names are aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs), not content.
        if (std::string_view(base).starts_with(kWhiteoutMetaPrefix)) return;
        std::string target = base.substr(kWhiteoutPrefix.size());
        if (target.empty() || target == "." || target == "..") refuse("whiteout names no file");
        make_room(dir, target, false);
        if (::mknodat(dir, target.c_str(), S_IFCHR | 0, ::makedev(0, 0)) < 0) sys_fail("mknodat (whiteout)");
    }

    void root_entry(struct archive_entry* e, bool is_link) {
        if (is_link || archive_entry_filetype(e) != AE_IFDIR) refuse("the layer's root must be a directory");
        owner_and_mode(root_, e);
        xattrs_fd(root_, e);
        dir_times_.emplace_back(std::vector<std::string>{}, times_of(e));
    }

    void regular(struct archive* a, struct archive_entry* e, int dir, const std::string& base) {
        make_room(dir, base, false);
        int raw = ::openat(dir, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (raw < 0) sys_fail("openat");
        Fd fd(raw);
        for (;;) {
            const void* buf = nullptr;
            std::size_t size = 0;
            la_int64_t offset = 0;
            int r = archive_read_data_block(a, &buf, &size, &offset);
            if (r == ARCHIVE_EOF) break;
            if (r < ARCHIVE_WARN) refuse("reading its data: " + error_of(a));
            // Sparse files arrive as blocks at offsets; the holes stay holes.
            const char* p = static_cast<const char*>(buf);
            while (size > 0) {
                ssize_t n = ::pwrite(fd.get(), p, size, offset);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    sys_fail("pwrite");
                }
                p += n;
                size -= static_cast<std::size_t>(n);
                offset += n;
            }
        }
        if (archive_entry_size_is_set(e) && ::ftruncate(fd.get(), archive_entry_size(e)) < 0) sys_fail("ftruncate");
        owner_and_mode(fd.get(), e);
        xattrs_fd(fd.get(), e);
        Times t = times_of(e);
        if (::futimens(fd.get(), t.ts.data()) < 0) sys_fail("futimens");
    }

    void directory(struct archive_entry* e, int dir, const std::vector<std::string>& comps) {
        const std::string& base = comps.back();
        if (!make_room(dir, base, true) && ::mkdirat(dir, base.c_str(), 0700) < 0) sys_fail("mkdirat");
        int raw = ::openat(dir, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (raw < 0) sys_fail("openat");
        Fd fd(raw);
        owner_and_mode(fd.get(), e);
        xattrs_fd(fd.get(), e);
        dir_times_.emplace_back(comps, times_of(e));
    }

    void symlink(struct archive_entry* e, int dir, const std::string& base) {
        const char* target = archive_entry_symlink(e);
        if (!target) target = archive_entry_symlink_utf8(e);
        if (!target || !*target) refuse("symlink without a target");
        make_room(dir, base, false);
        // The target is stored as it is: it is only ever resolved inside the container's root.
        if (::symlinkat(target, dir, base.c_str()) < 0) sys_fail("symlinkat");
        if (::fchownat(dir, base.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
            sys_fail("fchownat");
        xattrs_path(dir, base, e);
        Times t = times_of(e);
        if (::utimensat(dir, base.c_str(), t.ts.data(), AT_SYMLINK_NOFOLLOW) < 0) sys_fail("utimensat");
    }

    void special(struct archive_entry* e, int dir, const std::string& base) {
        make_room(dir, base, false);
        mode_t type = archive_entry_filetype(e);
        dev_t dev = type == AE_IFIFO ? 0 : ::makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (::mknodat(dir, base.c_str(), type | (archive_entry_perm(e) & 07777), dev) < 0) sys_fail("mknodat");
        if (::fchownat(dir, base.c_str(), archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
            sys_fail("fchownat");
        // mknod applied the umask; the node was just made here, so following the name is safe.
        if (::fchmodat(dir, base.c_str(), archive_entry_perm(e) & 07777, 0) < 0) sys_fail("fchmodat");
        xattrs_path(dir, base, e);
        Times t = times_of(e);
        if (::utimensat(dir, base.c_str(), t.ts.data(), AT_SYMLINK_NOFOLLOW) < 0) sys_fail("utimensat");
    }

    void hard_link(const char* link, int dir, const std::vector<std::string>& comps) {
        std::vector<std::string> target = components(link, "hard link target \"" + std::string(link) + "\"");
        if (target.empty()) refuse("hard link to the layer's root");
        if (target == comps) refuse("hard link to itself");
        Fd target_dir = walk(target, target.size() - 1, false);
        struct stat st;
        if (!target_dir || ::fstatat(target_dir.get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (target_dir && errno != ENOENT) sys_fail("fstatat " + std::string(link));
            refuse("hard link target \"" + std::string(link) + "\" is not in this layer");
        }
        if (S_ISDIR(st.st_mode)) refuse("hard link target \"" + std::string(link) + "\" is a directory");
        make_room(dir, comps.back(), false);
        if (::linkat(target_dir.get(), target.back().c_str(), dir, comps.back().c_str(), 0) < 0)
            sys_fail("linkat " + std::string(link));
    }

    void owner_and_mode(int fd, struct archive_entry* e) {
        // chown first: it clears set-id bits that the chmod then puts back.
        if (::fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0) sys_fail("fchown");
        if (::fchmod(fd, archive_entry_perm(e) & 07777) < 0) sys_fail("fchmod");
    }

    template <class Set>
    void each_xattr(struct archive_entry* e, Set&& set) {
        archive_entry_xattr_reset(e);
        const char* name = nullptr;
        const void* value = nullptr;
        std::size_t size = 0;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
            std::string_view n = name ? name : "";
            if (n.empty()) continue;
            if (n.starts_with("trusted.overlay."))
                refuse("xattr " + std::string(n) + " is overlayfs metadata, which a layer may not set");
            if (n.size() > XATTR_NAME_MAX) refuse("an xattr name of " + std::to_string(n.size()) + " bytes");
            if (size > XATTR_SIZE_MAX)
                refuse("xattr " + std::string(n) + " has a value of " + std::to_string(size) + " bytes, more than " +
                       std::to_string(XATTR_SIZE_MAX) + " allowed");
            if (set(name, value, size) < 0) sys_fail("setxattr " + std::string(n));
        }
    }

    void xattrs_fd(int fd, struct archive_entry* e) {
        each_xattr(e, [&](const char* n, const void* v, std::size_t s) { return ::fsetxattr(fd, n, v, s, 0); });
    }

    void xattrs_path(int dir, const std::string& base, struct archive_entry* e) {
        std::string path = proc_path(dir, base);
        each_xattr(e, [&](const char* n, const void* v, std::size_t s) {
            return ::lsetxattr(path.c_str(), n, v, s, 0);
        });
    }

    // A failed decompression shows through the tar reader; its own message says more.
    std::string error_of(struct archive* a) const { return stream_error_.empty() ? archive_error(a) : stream_error_; }

    int root_;
    const std::string& layer_;
    const std::string& stream_error_;
    std::string name_;  // the raw name of the entry being unpacked, for errors
    Fd cached_dir_;
    std::string cached_key_;
    std::vector<std::pair<std::vector<std::string>, Times>> dir_times_;
};

Compression detected_compression(struct archive* outer, const std::string& layer) {
    switch (archive_filter_code(outer, 0)) {
        case ARCHIVE_FILTER_NONE: return Compression::none;
        case ARCHIVE_FILTER_GZIP: return Compression::gzip;
        case ARCHIVE_FILTER_ZSTD: return Compression::zstd;
        default: invalid(layer + ": compressed with " + std::string(archive_filter_name(outer, 0)) +
                         ", which no layer media type allows");
    }
}

}  // namespace

std::string unpack_layer(int blob_fd, int dest_dirfd, Compression compression, const std::string& layer) {
    ArchivePtr outer(archive_read_new());
    if (!outer) throw Error(Errc::internal, "archive_read_new failed");
    archive_read_support_filter_gzip(outer.get());
    archive_read_support_filter_zstd(outer.get());
    archive_read_support_format_raw(outer.get());
    if (archive_read_open_fd(outer.get(), blob_fd, kStreamBuffer) != ARCHIVE_OK)
        invalid(layer + ": cannot read the layer: " + archive_error(outer.get()));
    struct archive_entry* raw_entry = nullptr;
    if (archive_read_next_header(outer.get(), &raw_entry) < ARCHIVE_WARN)
        invalid(layer + ": cannot read the layer: " + archive_error(outer.get()));
    Compression actual = detected_compression(outer.get(), layer);
    if (actual != compression)
        invalid(layer + ": its media type says " + std::string(compression_name(compression)) + " but the blob is " +
                std::string(compression_name(actual)));

    Decompressed stream;
    stream.outer = outer.get();
    ArchivePtr tar(archive_read_new());
    if (!tar) throw Error(Errc::internal, "archive_read_new failed");
    archive_read_support_format_tar(tar.get());
    if (archive_read_open(tar.get(), &stream, nullptr, read_decompressed, nullptr) != ARCHIVE_OK)
        invalid(layer + ": not a tar stream: " + (stream.error.empty() ? archive_error(tar.get()) : stream.error));

    Extractor extractor(dest_dirfd, layer, stream.error);
    std::string last;
    for (;;) {
        struct archive_entry* e = nullptr;
        int r = archive_read_next_header(tar.get(), &e);
        if (r == ARCHIVE_EOF) break;
        if (r < ARCHIVE_WARN) {
            std::string why = stream.error.empty() ? archive_error(tar.get()) : stream.error;
            invalid(layer + ": reading the tar stream" + (last.empty() ? "" : " after entry \"" + last + "\"") +
                    ": " + why);
        }
        extractor.entry(tar.get(), e);
        const char* name = archive_entry_pathname(e);
        last = name ? name : "";
    }
    extractor.finish();

    // The tar reader stops at the end-of-archive marker; the diff id covers every byte after it too.
    for (;;) {
        la_ssize_t n = archive_read_data(outer.get(), stream.buf.data(), stream.buf.size());
        if (n < 0) invalid(layer + ": reading the end of the layer: " + archive_error(outer.get()));
        if (n == 0) break;
        stream.hash.update(stream.buf.data(), static_cast<std::size_t>(n));
    }
    return stream.hash.finish();
}

}  // namespace kiln::image
