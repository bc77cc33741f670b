// Unpacking one layer tarball into an empty directory, in the form overlayfs reads as a lower
// layer: OCI whiteouts become overlay whiteouts, and nothing is ever written outside the directory.
#pragma once

#include <string>

#include "core/image/spec.hpp"

namespace kiln::image {

// Reads the layer blob on `blob_fd` (compressed as `compression` says: anything else is refused)
// and unpacks it beneath `dest_dirfd`. Returns the digest of the uncompressed tar stream, the
// layer's diff id. Errors are invalid_argument for a bad layer and name `layer` and the entry.
//
// Kept: modes, numeric owners, mtimes, xattrs, symlinks (their targets as they are), hard links
// to entries earlier in the same layer, fifos, and device nodes when the caller may create them
// (root of the initial user namespace; skipped otherwise).
// Refused: names that are absolute or have a ".." component, entries whose path goes through a
// symlink or a non-directory, hard links whose target is not in this layer, and trusted.overlay.*
// xattrs, which would let a layer forge overlay metadata.
std::string unpack_layer(int blob_fd, int dest_dirfd, Compression compression, const std::string& layer);

}  // namespace kiln::image
