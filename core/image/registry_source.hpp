// A registry read as an import source: the manifest (or index) a reference names stands as the
// one entry of an index.json, and blobs are fetched several at a time, resumable.
#pragma once

#include <memory>
#include <string>

#include "core/image/layout.hpp"
#include "core/image/registry.hpp"

namespace kiln::image {

inline constexpr int kPullConcurrency = 4;

std::unique_ptr<LayoutSource> open_registry(const PullReference& ref, const RegistryConfig& config);

}  // namespace kiln::image
