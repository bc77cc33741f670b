// Mount options of config.json ("ro", "rbind", "rslave", "mode=755", "idmap", ...) as mount(2)
// flags, propagation changes, recursive attributes and filesystem data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::container {

struct MountOptions {
    unsigned long flags = 0;        // MS_* given to mount(2)
    unsigned long clear = 0;        // MS_* an option such as "rw" or "suid" turned off
    bool bind = false;              // bind or rbind
    bool recursive = false;         // rbind
    std::vector<unsigned long> propagation;  // MS_PRIVATE, MS_SLAVE|MS_REC, ... in order
    // Recursive attributes ("rro", "rnosuid", ...) applied with mount_setattr(AT_RECURSIVE).
    uint64_t attr_set = 0;
    uint64_t attr_clr = 0;
    bool idmap = false;             // "idmap" or "ridmap"
    bool idmap_recursive = false;
    bool tmpcopyup = false;
    std::string data;               // what the filesystem parses: "mode=755,size=65536k"
};

// Parses the options of mounts[index]. Unknown words that look like flags are passed through as
// filesystem data, as runc does; a malformed option (empty string) is an error naming the field.
MountOptions parse_mount_options(const std::vector<std::string>& options, const std::string& field);

// Every option word this parser knows, for `features`.
std::vector<std::string> known_mount_options();

}  // namespace kiln::container
