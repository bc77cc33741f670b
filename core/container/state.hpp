// What kiln-runtime keeps about each container under --root (/run/kiln-runtime/<id>/):
// state.json (the record), config.json (the config it was created from), exec.fifo (present
// until started) and a lock that serializes commands on one container.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/sys/fd.hpp"

namespace kiln::container {

struct Record {
    std::string id;
    pid_t pid = 0;
    uint64_t pid_start_time = 0;  // with the pid, names the init process even after pid reuse
    std::string bundle;
    std::string rootfs;
    std::string created;  // RFC 3339
    std::vector<std::string> cgroup_paths;
    std::map<std::string, std::string> annotations;
    uid_t owner = 0;
};

// A container's directory, locked for as long as this object lives.
class ContainerDir {
public:
    ContainerDir(std::string id, std::string path, Fd lock) : id_(std::move(id)), path_(std::move(path)), lock_(std::move(lock)) {}
    const std::string& id() const { return id_; }
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }
    int lock_fd() const { return lock_.get(); }

    bool has_record() const;
    Record read() const;
    void write(const Record& r) const;
    // Removes the directory and everything in it; the lock is released after.
    void remove();

private:
    std::string id_;
    std::string path_;
    Fd lock_;
};

class StateStore {
public:
    explicit StateStore(std::string root) : root_(std::move(root)) {}
    const std::string& root() const { return root_; }

    // A new, locked directory; already_exists when the id is taken.
    ContainerDir create(const std::string& id) const;
    // The container's directory, locked (waits for a command in progress); not_found if absent.
    ContainerDir open(const std::string& id) const;
    // Removes a directory that a killed create left without its record, once no create holds
    // its lock; false when there is no such directory (or it has a record).
    bool remove_orphan(const std::string& id) const;
    std::vector<std::string> ids() const;
    // Reads a record without taking the lock (list): records are replaced atomically.
    std::optional<Record> peek(const std::string& id) const;

private:
    std::string root_;
};

// runc's rule: letters, digits, '_', '+', '-', '.'; not "." or "..".
void validate_id(const std::string& id);

}  // namespace kiln::container
