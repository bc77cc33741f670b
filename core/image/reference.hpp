// Image names as the store keys them: "name:tag", where name follows the distribution reference
// grammar (optional registry host[:port], then lowercase path components) and the tag defaults to
// "latest". No registry is implied: "busybox" stays "busybox:latest".
#pragma once

#include <string>

namespace kiln::image {

struct Reference {
    std::string name;
    std::string tag;

    std::string str() const { return name + ":" + tag; }
};

// Parses "name" or "name:tag"; anything else is an invalid_argument error naming `ref`.
Reference parse_reference(const std::string& ref);

}  // namespace kiln::image
