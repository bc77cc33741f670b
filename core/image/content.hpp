// The content store: blobs kept by digest under <state>/content/blobs/sha256/<hex>, like an OCI
// layout. A blob enters only through ingest(), which checks its size and sha256 against the
// descriptor that named it while copying, so a stored blob is always the one its name promises.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/image/spec.hpp"

namespace kiln::image {

// Pulls the next bytes of a stream into `buf`: returns how many (0 at the end) or throws.
using ReadFn = std::function<std::size_t(char* buf, std::size_t len)>;

// A ReadFn over bytes in memory (a document already fetched or made); `data` must outlive it.
ReadFn string_reader(const std::string& data);

class ContentStore {
public:
    explicit ContentStore(std::string dir);

    // <dir>/blobs/sha256/<hex>; `digest` is checked first so that it cannot name another path.
    std::string blob_path(const std::string& digest) const;
    bool has(const std::string& digest) const;

    // Copies a blob from `read` into a temp file under <dir>/ingest, counting and hashing, and
    // renames it into place (fsynced) only when both match `desc`. Otherwise an invalid_argument
    // error names `what` and the digest, and the temp file is gone.
    void ingest(const Descriptor& desc, const ReadFn& read, const std::string& what);

    // Where the bytes of a blob come from for an ingest that may resume: asked to start at
    // `offset` (what an interrupted ingest kept), it returns a reader and sets `*resumed` when
    // the reader starts there (false: from the first byte).
    using OpenFn = std::function<ReadFn(std::uint64_t offset, bool* resumed)>;
    // Like ingest, but the bytes go to <dir>/ingest/<hex>.partial, which is kept when reading
    // fails (a dropped connection) and resumed by the next ingest of the digest; a blob that is
    // wrong (size, digest) is dropped whole. Ingests of one digest wait for each other.
    // `progress` hears the bytes stored so far (the resumed ones first).
    void ingest_resumable(const Descriptor& desc, const OpenFn& open, const std::string& what,
                          const std::function<void(std::uint64_t)>& progress = {});
    // Bytes kept of an interrupted ingest of `digest`, 0 when none.
    std::uint64_t partial_size(const std::string& digest) const;
    // Removes the partial blobs of interrupted ingests that no ingest is resuming; returns their
    // bytes, and counts them in `*count`.
    std::uint64_t remove_partials(std::uint64_t* count = nullptr);

    // A small stored blob (index, manifest, config) in memory; larger than `limit` is an error.
    std::string read(const std::string& digest, std::size_t limit, const std::string& what) const;

    void remove(const std::string& digest);
    std::vector<std::string> digests() const;

    // Drops the temp files of ingests that a crash interrupted (partial blobs stay, to be
    // resumed). Only safe while no ingest runs.
    void clear_ingests();

private:
    std::string dir_;
};

}  // namespace kiln::image
