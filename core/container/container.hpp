// The container layer's operations on containers kept under a state root: the lifecycle of the
// runtime spec (create, start, state, kill, delete) and runc's additions (exec, pause, resume,
// update, ps, list). kiln-runtime and kiln-monitor are thin shells over this.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cgroups/cgroup.hpp"
#include "core/container/state.hpp"
#include "core/oci/spec.hpp"
#include "core/oci/state.hpp"

namespace kiln::container {

struct CreateOptions {
    std::string id;
    std::string bundle;
    std::string pid_file;
    std::string console_socket;  // path of a unix socket that receives the pty master
    int console_fd = -1;         // or a connected socket (run with a terminal)
    int preserve_fds = 0;
    bool no_pivot = false;
    bool no_new_keyring = false;
    // Start as soon as init is created, under the same lock (run): what `start` does, without
    // a second command's look-ups.
    bool start = false;
};

struct ExecOptions {
    oci::Process process;
    std::string pid_file;
    std::string console_socket;
    int console_fd = -1;
    int preserve_fds = 0;
};

struct ContainerInfo {
    oci::State state;
    std::string rootfs;
    std::string created;
    uid_t owner = 0;
};

class Runtime {
public:
    explicit Runtime(std::string root);

    struct Created {
        pid_t pid = 0;
        bool terminal = false;  // process.terminal: a pty master went to the console socket
    };
    // Creates the container and leaves its init waiting for start.
    Created create(const CreateOptions& options);
    void start(const std::string& id);
    ContainerInfo state(const std::string& id);
    void kill(const std::string& id, int signal, bool all);
    // Deleting a container that is not stopped is an error unless `force` (the spec's MUST).
    void remove(const std::string& id, bool force);
    std::vector<ContainerInfo> list();
    std::vector<pid_t> processes(const std::string& id);
    void pause(const std::string& id);
    void resume(const std::string& id);
    void update(const std::string& id, const oci::Resources& resources);
    // Starts a process in a running container; returns its pid once it has exec'd.
    pid_t exec(const std::string& id, const ExecOptions& options);
    // The config a container was created from (parsed once per Runtime).
    const oci::Spec& config(const std::string& id);

    const StateStore& store() const { return store_; }

private:
    const cgroups::Layout& layout();
    std::string status(const ContainerDir* dir, const Record& r);
    cgroups::Cgroup cgroup_of(const Record& r);
    void destroy(ContainerDir& dir, const Record& r);

    StateStore store_;
    std::optional<cgroups::Layout> layout_;
    std::map<std::string, oci::Spec> specs_;
};

// Signal names as runc takes them: "TERM", "SIGTERM" or "15".
int parse_signal(const std::string& text);

}  // namespace kiln::container
