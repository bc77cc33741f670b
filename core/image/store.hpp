// kiln's local image store under the state dir:
//   content/blobs/sha256/<hex>   verified blobs (manifests, configs, layers)
//   snapshots/<hex>              layers unpacked for overlayfs, keyed by layer digest
//   images/<hex of name>.json    one record per image name, written last and atomically
// Import takes an OCI layout directory or an oci-archive. Every Store method may be called from
// several threads; imports run in parallel and may share layers. One Store per state dir: the
// constructor takes a lock on it that another process (or Store) cannot get.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/image/content.hpp"
#include "core/image/layout.hpp"
#include "core/image/reference.hpp"
#include "core/image/registry.hpp"
#include "core/image/snapshot.hpp"
#include "core/image/spec.hpp"
#include "core/sys/fd.hpp"

namespace kiln::image {

struct Image {
    std::string name;           // normalized "name:tag" given at import (tag defaults to latest)
    std::string digest;         // manifest digest "sha256:<hex>"
    std::string config_digest;
    std::string os, architecture;
    ImageConfig config;
    std::vector<std::string> layers;    // layer digests, bottom first
    std::vector<std::string> diff_ids;  // digests of the uncompressed layers, bottom first
    std::uint64_t size = 0;     // compressed blob bytes (manifest+config+layers)
    std::string created;        // import time, RFC 3339 UTC
};

nlohmann::json to_json(const Image& image);
// The inverse of to_json, for records; errors name the field.
Image image_from_json(const nlohmann::json& j);

// What a pull or an import is doing, blob by blob (from the threads that do it).
struct PullProgress {
    std::string digest;
    std::string kind;    // manifest, config, layer
    std::string status;  // exists, downloading, downloaded, unpacking, unpacked
    std::uint64_t current = 0, total = 0;
};
using ProgressFn = std::function<void(const PullProgress&)>;

struct ImportOptions {
    // From an index: this platform (default linux and this machine's architecture).
    std::optional<Platform> platform;
    ProgressFn progress;
};

using RegistryResolver = std::function<RegistryConfig(const std::string& registry)>;

// "os/arch[/variant]"; invalid_argument naming `text` otherwise.
Platform parse_platform(const std::string& text);

class Store {
public:
    explicit Store(std::string root);
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Imports an OCI layout dir or oci-archive (.tar, possibly compressed) under `tag` ("name" or
    // "name:tag"). From the index: linux and this machine's architecture, or the only manifest,
    // or the manifest whose org.opencontainers.image.ref.name is the tag. A re-import of a tag
    // replaces its record. A failed import leaves nothing behind.
    Image import(const std::string& path, const std::string& tag, const ImportOptions& options = {});

    // Pulls "[registry/]repository[:tag][@digest]" from its registry (registry.hpp), with the
    // settings `registries` gives for the registry's name, and unpacks its layers before it
    // returns. Blobs come several at a time and are verified as they stream; a dropped
    // connection keeps what arrived, and the next pull resumes it. Recorded as
    // "registry/repository:tag" (or "...@digest" when pulled by digest alone).
    Image pull(const std::string& reference, const ImportOptions& options = {}, const RegistryResolver& registries = {});

    std::vector<Image> list() const;  // sorted by name
    // By "name[:tag]", by "sha256:<hex>", or by a unique hex prefix of at least 12 digits of the
    // manifest digest. kiln::Error(not_found) naming the ref when nothing matches.
    Image get(const std::string& ref) const;
    // Drops the record, then the blobs and snapshots no remaining image uses. A digest or prefix
    // shared by several names is refused (failed_precondition): remove the names one by one.
    // With `keep_content`, only the record goes: what a running container still reads (its
    // layers) stays until prune() finds it unused.
    void remove(const std::string& ref, bool keep_content = false);

    // A single-layer OCI image of the directory tree at `rootfs` (a gzip layer; owners, modes,
    // times, xattrs, links and devices as they are; nothing followed out of the tree), with
    // `config` (the image config's "config" object: Entrypoint, Cmd, Env, ...) and this machine's
    // platform, imported under `tag`.
    Image build_from_dir(const std::string& rootfs, const std::string& tag, const nlohmann::json& config);

    enum class ExportFormat { layout, archive };
    // Writes the image as an OCI image layout directory or an oci-archive at `path` (which must
    // not exist), with org.opencontainers.image.ref.name (the tag) and io.containerd.image.name
    // (the whole name) on its index entry, as skopeo, podman and ctr read them. Written beside
    // `path` and renamed into place complete.
    void export_image(const std::string& ref, const std::string& path, ExportFormat format);

    struct PruneResult {
        std::uint64_t blobs = 0, snapshots = 0, partials = 0, bytes = 0;
    };
    // Removes the blobs and snapshots that no image record references and that the images of
    // `in_use` (manifest digests, e.g. of running containers whose image was deleted) do not
    // need, and the partial blobs of interrupted pulls.
    PruneResult prune(const std::set<std::string>& in_use);

    // Snapshot dirs for overlayfs' lowerdir, topmost first.
    std::vector<std::string> lower_dirs(const Image& image) const;

    const std::string& root() const { return root_; }

private:
    // The digests an import relies on before its record exists; unpinned when it ends.
    struct Pins {
        Store& store;
        std::vector<std::string> digests;

        void add(const std::string& digest) {
            std::lock_guard lock(store.mutex_);
            store.pinned_.insert(digest);
            digests.push_back(digest);
        }
        // Requires store.mutex_.
        void release() {
            for (const auto& d : digests) {
                auto it = store.pinned_.find(d);
                if (it != store.pinned_.end()) store.pinned_.erase(it);
            }
            digests.clear();
        }
        ~Pins() {
            if (digests.empty()) return;
            std::lock_guard lock(store.mutex_);
            release();
        }
    };
    static std::vector<std::string> digests_of_image(const Image& image);
    static std::string host_architecture_name();
    std::atomic<unsigned> builds_{0};

    Image run_import(LayoutSource& source, const Reference& ref, const std::string& record_name,
                     const ImportOptions& options, bool keep_on_transport_error);

    std::string record_path(const std::string& name) const;
    void load_records();
    const Image* find(const std::string& ref) const;  // requires mutex_
    void commit(const Image& image);
    // Deletes those of `digests` that no record references and no import has pinned. Requires
    // mutex_; snapshot trees detached here are returned for deletion outside it.
    std::vector<std::string> collect(const std::vector<std::string>& digests);
    void discard(const std::vector<std::string>& detached) const;

    std::string root_;
    Fd lock_;
    ContentStore content_;
    SnapshotStore snapshots_;
    std::string images_dir_;

    mutable std::mutex mutex_;
    std::map<std::string, Image> records_;    // by name
    std::multiset<std::string> pinned_;       // digests an import in progress relies on
};

// For a container in a user namespace of its own: the namespace (an fd of it) and the host ids
// its root is.
struct RootfsIdmap {
    int userns_fd = -1;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Mounts overlayfs lowerdir=lowers (topmost first), upperdir=upper, workdir=work at target,
// creating upper, work and target if missing. With `idmap`, the overlay is made of idmapped
// mounts of its layers (overlayfs itself cannot be idmapped), so that the files the image's root
// owns are the namespace root's, and what that root writes is stored as the image's root's; the
// overlay is created with the namespace root's fsuid and fsgid, the ids it writes its work
// files with. The layers' idmapped mounts are staged in <dir of upper>/idmap and detached again.
void mount_rootfs(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                  const std::string& target, const RootfsIdmap* idmap = nullptr);
// Detaches the overlay mounted at target.
void unmount_rootfs(const std::string& target);

}  // namespace kiln::image
