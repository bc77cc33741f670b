// Directory listing and syncing shared by the blob, snapshot and record stores.
#pragma once

#include <string>
#include <vector>

namespace kiln::image {

// Names in `dir` without "." and ".."; empty when `dir` does not exist.
std::vector<std::string> list_dir(const std::string& dir);
// Makes renames and unlinks in `dir` durable.
void fsync_dir(const std::string& dir);

}  // namespace kiln::image
