// The on-disk state of kiln-runtime's containers.
#include "core/container/state.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::container {
namespace {

using nlohmann::json;

json to_json(const Record& r) {
    return json{{"id", r.id},
                {"pid", r.pid},
                {"pidStartTime", r.pid_start_time},
                {"bundle", r.bundle},
                {"rootfs", r.rootfs},
                {"created", r.created},
                {"cgroupPaths", r.cgroup_paths},
                {"annotations", r.annotations},
                {"owner", r.owner}};
}

Record from_json(const json& j) {
    Record r;
    r.id = j.at("id").get<std::string>();
    r.pid = j.at("pid").get<pid_t>();
    r.pid_start_time = j.at("pidStartTime").get<uint64_t>();
    r.bundle = j.at("bundle").get<std::string>();
    r.rootfs = j.value("rootfs", "");
    r.created = j.value("created", "");
    r.cgroup_paths = j.value("cgroupPaths", std::vector<std::string>{});
    r.annotations = j.value("annotations", std::map<std::string, std::string>{});
    r.owner = j.value("owner", 0u);
    return r;
}

// Only `create` makes the lock file: an open racing with a delete must not put a new file into
// the directory being removed.
Fd lock_dir(const std::string& dir, const std::string& id, bool create) {
    int fd = ::open((dir + "/lock").c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
    if (fd < 0) {
        if (errno == ENOENT) not_found("container \"" + id + "\" does not exist");
        throw_sys("open", dir + "/lock");
    }
    Fd lock(fd);
    while (::flock(lock.get(), LOCK_EX) < 0)
        if (errno != EINTR) throw_sys("flock", dir + "/lock");
    // Whoever held the lock may have deleted the container meanwhile.
    struct stat st;
    if (::fstat(lock.get(), &st) < 0) throw_sys("fstat", dir + "/lock");
    if (st.st_nlink == 0) not_found("container \"" + id + "\" does not exist");
    return lock;
}

}  // namespace

void validate_id(const std::string& id) {
    bool ok = !id.empty() && id != "." && id != ".." && id.size() <= 1024;
    for (char c : id)
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.')) ok = false;
    if (!ok) invalid("invalid container ID \"" + id + "\": use letters, digits, _ + - and .");
}

bool ContainerDir::has_record() const { return path_exists(file("state.json")); }

Record ContainerDir::read() const {
    auto text = read_file_if_exists(file("state.json"));
    if (!text) not_found("container \"" + id_ + "\" does not exist");
    try {
        return from_json(json::parse(*text));
    } catch (const json::exception& e) {
        throw Error(Errc::internal, "corrupt state " + file("state.json") + ": " + e.what());
    }
}

void ContainerDir::write(const Record& r) const {
    // /run is tmpfs: atomic replacement is what matters, not durability.
    atomic_write(file("state.json"), to_json(r).dump(), false, 0600);
}

void ContainerDir::remove() {
    remove_all(path_);
    lock_.reset();
}

ContainerDir StateStore::create(const std::string& id) const {
    validate_id(id);
    mkdir_all(root_, 0711);
    std::string dir = root_ + "/" + id;
    if (::mkdir(dir.c_str(), 0711) < 0) {
        if (errno == EEXIST) throw Error(Errc::already_exists, "container \"" + id + "\" already exists");
        throw_sys("mkdir", dir);
    }
    return ContainerDir(id, dir, lock_dir(dir, id, true));
}

bool StateStore::remove_orphan(const std::string& id) const {
    validate_id(id);
    std::string dir = root_ + "/" + id;
    struct stat st;
    if (::lstat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) return false;
    Fd lock;
    try {
        lock = lock_dir(dir, id, false);  // a create in progress finishes first
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;  // no lock file: killed before it made one
    }
    if (path_exists(dir + "/state.json") || !path_exists(dir)) return false;
    remove_all(dir);
    return true;
}

ContainerDir StateStore::open(const std::string& id) const {
    validate_id(id);
    std::string dir = root_ + "/" + id;
    struct stat st;
    if (::stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) not_found("container \"" + id + "\" does not exist");
    ContainerDir d(id, dir, lock_dir(dir, id, false));
    if (!d.has_record()) not_found("container \"" + id + "\" does not exist");
    return d;
}

std::vector<std::string> StateStore::ids() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(root_.c_str());
    if (!d) {
        if (errno == ENOENT) return out;
        throw_sys("opendir", root_);
    }
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == ".." || e->d_type != DT_DIR) continue;
        out.push_back(name);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::optional<Record> StateStore::peek(const std::string& id) const {
    auto text = read_file_if_exists(root_ + "/" + id + "/state.json");
    if (!text) return std::nullopt;
    try {
        return from_json(json::parse(*text));
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

}  // namespace kiln::container
