// Snapshot directories: unpack into a temp dir, sync, rename into place.
#include "core/image/snapshot.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/image/digest.hpp"
#include "core/image/directory.hpp"
#include "core/image/unpack.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"

namespace kiln::image {

namespace {

// Temp names start with a dot, which no digest hex does.
constexpr std::string_view kUnpackPrefix = ".unpack-";
constexpr std::string_view kTrashPrefix = ".trash-";

std::string make_temp_dir(const std::string& pattern) {
    std::string path = pattern;
    if (!::mkdtemp(path.data())) throw_sys("mkdtemp", pattern);
    return path;
}

}  // namespace

SnapshotStore::SnapshotStore(std::string dir) : dir_(std::move(dir)) {
    // Traversable but not listable by others: overlayfs checks lower dirs with the mounter's
    // credentials, and containers with their own users only need to reach the files.
    if (mkdir_all(dir_, 0711)) ::chmod(dir_.c_str(), 0711);
}

std::string SnapshotStore::path(const std::string& layer_digest) const {
    return dir_ + "/" + digest_hex(layer_digest, "layer");
}

bool SnapshotStore::has(const std::string& layer_digest) const { return path_exists(path(layer_digest)); }

void SnapshotStore::create(const Descriptor& layer, const std::string& blob_path, const std::string& diff_id,
                           const std::string& what) {
    std::string final_path = path(layer.digest);
    auto compression = layer_compression(layer.media_type);
    if (!compression) invalid(what + ": media type " + layer.media_type + " is not a layer");
    std::string tmp =
        make_temp_dir(dir_ + "/" + std::string(kUnpackPrefix) + digest_hex(layer.digest, what) + "-XXXXXX");
    try {
        // mkdtemp made it 0700; a layer without a "./" entry gets the usual root directory mode.
        if (::chmod(tmp.c_str(), 0755) < 0) throw_sys("chmod", tmp);
        Fd root = open_file(tmp, O_RDONLY | O_DIRECTORY);
        Fd blob = open_file(blob_path, O_RDONLY);
        std::string actual = unpack_layer(blob.get(), root.get(), *compression, what);
        if (!diff_id.empty() && actual != diff_id)
            invalid(what + ": uncompressed content has digest " + actual + ", but the image config lists diff id " +
                    diff_id);
        // The rename publishes the snapshot as complete, so its content must be on disk first.
        if (::syncfs(root.get()) < 0) throw_sys("syncfs", tmp);
        if (::rename(tmp.c_str(), final_path.c_str()) < 0) {
            // Another import unpacked the same layer first; its copy is as good as this one.
            if (errno != ENOTEMPTY && errno != EEXIST) throw_sys("rename", tmp + " to " + final_path);
            remove_all(tmp);
        } else {
            fsync_dir(dir_);
        }
    } catch (...) {
        try {
            remove_all(tmp);
        } catch (...) {
            // The error that brought us here matters more; clear_temporaries() retries later.
        }
        throw;
    }
}

std::optional<std::string> SnapshotStore::detach(const std::string& layer_digest) {
    std::string from = path(layer_digest);
    std::string to = make_temp_dir(dir_ + "/" + std::string(kTrashPrefix) + digest_hex(layer_digest, "layer") +
                                   "-XXXXXX");
    // rename() replaces the empty temp dir: the name is unique and the move atomic.
    if (::rename(from.c_str(), to.c_str()) < 0) {
        int err = errno;
        ::rmdir(to.c_str());
        if (err == ENOENT) return std::nullopt;
        throw_sys(err, "rename", from + " to " + to);
    }
    return to;
}

void SnapshotStore::discard(const std::string& detached) { remove_all(detached); }

std::vector<std::string> SnapshotStore::digests() const {
    std::vector<std::string> out;
    for (auto& name : list_dir(dir_))
        if (is_sha256_digest("sha256:" + name)) out.push_back("sha256:" + name);
    return out;
}

void SnapshotStore::clear_temporaries() {
    for (auto& name : list_dir(dir_))
        if (name.starts_with(kUnpackPrefix) || name.starts_with(kTrashPrefix)) remove_all(dir_ + "/" + name);
}

}  // namespace kiln::image
