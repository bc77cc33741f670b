// Verified blob storage: stream, count, hash, fsync, rename.
#include "core/image/content.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "core/image/digest.hpp"
#include "core/image/directory.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

constexpr std::size_t kCopyBuffer = 256 * 1024;
constexpr std::string_view kPartial = ".partial";

// Opens and locks the partial file at `path`: the lock is held on the file the path names, not
// on one another ingest has just renamed or removed.
Fd lock_partial(const std::string& path) {
    for (;;) {
        Fd fd = open_file(path, O_RDWR | O_CREAT, 0644);
        if (::flock(fd.get(), LOCK_EX) < 0) throw_sys("flock", path);
        struct stat a, b;
        if (::fstat(fd.get(), &a) < 0) throw_sys("fstat", path);
        if (::stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return fd;
    }
}

// Removes a temp file unless it was renamed into place.
struct TempFile {
    std::string path;
    bool keep = false;
    ~TempFile() {
        if (!keep && !path.empty()) ::unlink(path.c_str());
    }
};

}  // namespace

ReadFn string_reader(const std::string& data) {
    auto pos = std::make_shared<std::size_t>(0);
    return [&data, pos](char* buf, std::size_t len) {
        std::size_t n = std::min(len, data.size() - *pos);
        std::copy_n(data.data() + *pos, n, buf);
        *pos += n;
        return n;
    };
}

ContentStore::ContentStore(std::string dir) : dir_(std::move(dir)) {
    mkdir_all(dir_, 0700);
    mkdir_all(dir_ + "/blobs/sha256", 0700);
    mkdir_all(dir_ + "/ingest", 0700);
}

std::string ContentStore::blob_path(const std::string& digest) const {
    return dir_ + "/blobs/sha256/" + digest_hex(digest, "blob");
}

bool ContentStore::has(const std::string& digest) const { return path_exists(blob_path(digest)); }

void ContentStore::ingest(const Descriptor& desc, const ReadFn& read, const std::string& what) {
    std::string final_path = blob_path(desc.digest);
    TempFile tmp{dir_ + "/ingest/" + digest_hex(desc.digest, what) + ".XXXXXX"};
    int raw = ::mkostemp(tmp.path.data(), O_CLOEXEC);
    if (raw < 0) {
        std::string pattern = tmp.path;
        tmp.path.clear();
        throw_sys("mkostemp", pattern);
    }
    Fd fd(raw);
    ::fchmod(fd.get(), 0644);

    Sha256 hash;
    std::uint64_t total = 0;
    std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
    for (;;) {
        std::size_t n = read(buf.get(), kCopyBuffer);
        if (n == 0) break;
        total += n;
        // Stop at the first byte past the stated size: a lying descriptor must not make the store
        // swallow an unbounded stream.
        if (total > desc.size)
            invalid(what + " " + desc.digest + ": blob is larger than the " + std::to_string(desc.size) +
                    " bytes its descriptor states");
        hash.update(buf.get(), n);
        write_all(fd.get(), std::string_view(buf.get(), n), tmp.path);
    }
    if (total != desc.size)
        invalid(what + " " + desc.digest + ": blob is " + std::to_string(total) + " bytes, its descriptor states " +
                std::to_string(desc.size));
    std::string actual = hash.finish();
    if (actual != desc.digest)
        invalid(what + " " + desc.digest + ": blob content has digest " + actual + ", not the one its descriptor states");
    if (::fsync(fd.get()) < 0) throw_sys("fsync", tmp.path);
    // Two imports may ingest the same blob at once: both copies are verified and identical, so
    // whichever rename lands last simply replaces the other.
    if (::rename(tmp.path.c_str(), final_path.c_str()) < 0) throw_sys("rename", tmp.path + " to " + final_path);
    tmp.keep = true;
    fsync_dir(dir_ + "/blobs/sha256");
}

void ContentStore::ingest_resumable(const Descriptor& desc, const OpenFn& open, const std::string& what,
                                    const std::function<void(std::uint64_t)>& progress) {
    std::string final_path = blob_path(desc.digest);
    std::string path = dir_ + "/ingest/" + digest_hex(desc.digest, what) + std::string(kPartial);
    Fd fd = lock_partial(path);
    auto drop = [&] { ::unlink(path.c_str()); };
    if (has(desc.digest)) {
        drop();  // another ingest finished it while we waited
        return;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw_sys("fstat", path);
    std::uint64_t have = static_cast<std::uint64_t>(st.st_size);
    std::unique_ptr<char[]> buf(new char[kCopyBuffer]);
    Sha256 hash;
    if (have >= desc.size) have = 0;  // nothing to resume: a full (and so wrong) copy, or none
    for (std::uint64_t done = 0; done < have;) {
        ssize_t n = ::pread(fd.get(), buf.get(), static_cast<std::size_t>(std::min<std::uint64_t>(kCopyBuffer, have - done)),
                            static_cast<off_t>(done));
        if (n <= 0) {
            have = done;  // shorter than fstat said: keep what was read
            break;
        }
        hash.update(buf.get(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
    }
    bool resumed = false;
    ReadFn read = open(have, &resumed);
    if (!resumed && have > 0) {
        hash = Sha256();
        have = 0;
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(have)) < 0) throw_sys("ftruncate", path);
    if (::lseek(fd.get(), static_cast<off_t>(have), SEEK_SET) < 0) throw_sys("lseek", path);
    std::uint64_t total = have;
    if (progress) progress(total);
    for (;;) {
        std::size_t n = read(buf.get(), kCopyBuffer);  // a transport error leaves the partial file
        if (n == 0) break;
        total += n;
        if (total > desc.size) {
            drop();
            invalid(what + " " + desc.digest + ": blob is larger than the " + std::to_string(desc.size) +
                    " bytes its descriptor states");
        }
        hash.update(buf.get(), n);
        write_all(fd.get(), std::string_view(buf.get(), n), path);
        if (progress) progress(total);
    }
    if (total != desc.size) {
        drop();
        invalid(what + " " + desc.digest + ": blob is " + std::to_string(total) + " bytes, its descriptor states " +
                std::to_string(desc.size));
    }
    std::string actual = hash.finish();
    if (actual != desc.digest) {
        drop();
        invalid(what + " " + desc.digest + ": blob content has digest " + actual + ", not the one its descriptor states");
    }
    if (::fsync(fd.get()) < 0) throw_sys("fsync", path);
    if (::rename(path.c_str(), final_path.c_str()) < 0) throw_sys("rename", path + " to " + final_path);
    fsync_dir(dir_ + "/blobs/sha256");
}

std::uint64_t ContentStore::partial_size(const std::string& digest) const {
    struct stat st;
    std::string path = dir_ + "/ingest/" + digest_hex(digest, "blob") + std::string(kPartial);
    return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::uint64_t ContentStore::remove_partials(std::uint64_t* count) {
    std::uint64_t freed = 0;
    for (auto& name : list_dir(dir_ + "/ingest")) {
        if (!name.ends_with(kPartial)) continue;
        std::string path = dir_ + "/ingest/" + name;
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) continue;  // being resumed now
        struct stat st;
        if (::fstat(fd.get(), &st) == 0) freed += static_cast<std::uint64_t>(st.st_size);
        ::unlink(path.c_str());
        if (count) ++*count;
    }
    return freed;
}

std::string ContentStore::read(const std::string& digest, std::size_t limit, const std::string& what) const {
    std::string path = blob_path(digest);
    Fd fd = open_file(path, O_RDONLY);
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) throw_sys("fstat", path);
    if (static_cast<std::uint64_t>(st.st_size) > limit)
        invalid(what + " " + digest + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                std::to_string(limit) + " allowed for it");
    return read_fd(fd.get());
}

void ContentStore::remove(const std::string& digest) {
    std::string path = blob_path(digest);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_sys("unlink", path);
}

std::vector<std::string> ContentStore::digests() const {
    std::vector<std::string> out;
    for (auto& name : list_dir(dir_ + "/blobs/sha256"))
        if (is_sha256_digest("sha256:" + name)) out.push_back("sha256:" + name);
    return out;
}

void ContentStore::clear_ingests() {
    for (auto& name : list_dir(dir_ + "/ingest")) {
        if (name.ends_with(kPartial)) continue;
        std::string path = dir_ + "/ingest/" + name;
        if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_sys("unlink", path);
    }
}

}  // namespace kiln::image
