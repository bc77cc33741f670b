// Snapshots: each layer unpacked once into <state>/snapshots/<hex of the layer digest>, shared
// read-only by every image and container that has the layer.
//
// Keyed by the layer (blob) digest rather than a chain id: an overlayfs lower layer holds only its
// own changes, with whiteouts as overlay whiteouts, so its unpacked form does not depend on the
// layers under it, and images sharing a layer at different depths share the snapshot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/image/spec.hpp"

namespace kiln::image {

class SnapshotStore {
public:
    explicit SnapshotStore(std::string dir);

    std::string path(const std::string& layer_digest) const;
    bool has(const std::string& layer_digest) const;

    // Unpacks `layer` from the blob at `blob_path` into a temp dir beside the snapshots and
    // renames it into place once complete and synced. `diff_id`, when set, must be the digest of
    // the uncompressed tar. On any error the temp dir is removed and nothing is left.
    void create(const Descriptor& layer, const std::string& blob_path, const std::string& diff_id,
                const std::string& what);

    // Renames the snapshot out of the way (atomically, so it is gone for every reader) and
    // returns where it went, for discard() to delete later, outside any lock.
    std::optional<std::string> detach(const std::string& layer_digest);
    static void discard(const std::string& detached);

    std::vector<std::string> digests() const;
    // Removes what an interrupted create or discard left. Only safe while no create runs.
    void clear_temporaries();

private:
    std::string dir_;
};

}  // namespace kiln::image
