// The parts of the plan both the runtime and the kiln-init program use.
#include <sched.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "core/container/plan.hpp"

namespace kiln::container {

int init_fail(InitError* e, int err, const char* fmt, ...) noexcept {
    e->err = err;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    if (err && n >= 0 && static_cast<size_t>(n) < sizeof e->message)
        snprintf(e->message + n, sizeof e->message - n, ": %s", strerrordesc_np(err));
    return -1;
}

bool NamespacePlan::new_user() const { return new_flags & CLONE_NEWUSER; }
bool NamespacePlan::new_pid() const { return new_flags & CLONE_NEWPID; }
bool NamespacePlan::new_mount() const { return new_flags & CLONE_NEWNS; }
bool NamespacePlan::new_cgroup() const { return new_flags & CLONE_NEWCGROUP; }

std::vector<int> InitPlan::inherited_fds() const {
    std::vector<int> fds = {start_fd};
    if (console_socket >= 0) fds.push_back(console_socket);
    for (const auto& j : ns.joins) fds.push_back(j.fd);
    for (const auto& m : rootfs.mounts)
        if (m.idmap_userns_fd >= 0) fds.push_back(m.idmap_userns_fd);
    return fds;
}

void finalize_pointers(ProcessPlan& p) {
    p.argv.clear();
    for (auto& a : p.args) p.argv.push_back(a.data());
    p.argv.push_back(nullptr);
    p.envp.clear();
    for (auto& e : p.env) p.envp.push_back(e.data());
    p.envp.push_back(nullptr);
}

void finalize_pointers(HookExec& h) {
    h.argv.clear();
    for (auto& a : h.args) h.argv.push_back(a.data());
    h.argv.push_back(nullptr);
    h.envp.clear();
    for (auto& e : h.env) h.envp.push_back(e.data());
    h.envp.push_back(nullptr);
}

}  // namespace kiln::container
