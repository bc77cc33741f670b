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

const NamespaceJoin* NamespacePlan::joined(int flag) const {
    for (const auto& j : joins)
        if (j.flag == flag) return &j;
    return nullptr;
}

std::vector<int*> fd_slots(InitPlan& plan) {
    std::vector<int*> out;
    auto add = [&](int& fd) {
        if (fd >= 0) out.push_back(&fd);
    };
    add(plan.start_fd);
    add(plan.console_socket);
    for (auto& j : plan.ns.joins) add(j.fd);
    for (auto& m : plan.rootfs.mounts) {
        add(m.idmap_userns_fd);
        add(m.tree_fd);
    }
    for (auto& fd : plan.cgroup_tasks) add(fd);
    return out;
}

std::vector<int*> fd_slots(ExecPlan& plan) {
    std::vector<int*> out;
    auto add = [&](int& fd) {
        if (fd >= 0) out.push_back(&fd);
    };
    add(plan.pidfd);
    add(plan.console_socket);
    for (auto& fd : plan.cgroup_tasks) add(fd);
    return out;
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
