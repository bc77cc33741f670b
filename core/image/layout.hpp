// Where an import reads from: an OCI image layout directory, or the same layout packed as an
// oci-archive tarball (plain or compressed), read in place with libarchive; or a registry
// (registry_source.hpp), which serves the same documents and blobs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/image/content.hpp"
#include "core/image/spec.hpp"

namespace kiln::image {

// Receives one blob of the layout: its descriptor and a reader over its bytes.
using BlobSink = std::function<void(const Descriptor&, const ReadFn&)>;

class LayoutSource {
public:
    virtual ~LayoutSource() = default;

    // The text of index.json, after checking that the oci-layout marker is there.
    virtual std::string index_json() = 0;
    // Hands every blob of `wanted` to `sink` once. A blob the layout lacks is an invalid_argument
    // error naming it. An archive is read from start to end once per call, so callers batch.
    virtual void fetch(const std::vector<Descriptor>& wanted, const BlobSink& sink) = 0;

    // A source that can start a blob at an offset (a registry) is fetched through this instead,
    // several blobs at once: the sink may be called from several threads.
    using ResumableSink = std::function<void(const Descriptor&, const ContentStore::OpenFn&)>;
    virtual bool resumable() const { return false; }
    virtual void fetch_resumable(const std::vector<Descriptor>& wanted, const ResumableSink& sink) {
        (void)wanted;
        (void)sink;
    }

    const std::string& path() const { return path_; }

protected:
    explicit LayoutSource(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

// A directory is read as a layout, a regular file as an oci-archive.
std::unique_ptr<LayoutSource> open_layout(const std::string& path);

// Limits for the JSON documents that are read whole into memory.
inline constexpr std::size_t kMaxDocumentSize = 4 << 20;

}  // namespace kiln::image
