// Encoding of plans for the kiln-init program: one field list per type drives both directions.
#include "core/container/plan_codec.hpp"

#include <cstring>
#include <type_traits>

namespace kiln::container {
namespace {

class Encoder {
public:
    std::string out;
    void fail() {}

    template <class T>
        requires std::is_arithmetic_v<T>
    void value(const T& v) {
        uint64_t x = static_cast<uint64_t>(v);
        out.append(reinterpret_cast<const char*>(&x), sizeof x);
    }
    void value(const std::string& s) {
        value(s.size());
        out += s;
    }
    void value(const struct rlimit& r) {
        value(r.rlim_cur);
        value(r.rlim_max);
    }
    void value(const struct sock_filter& f) {
        value(f.code);
        value(f.jt);
        value(f.jf);
        value(f.k);
    }
    template <class A, class B>
    void value(const std::pair<A, B>& p) {
        value(p.first);
        value(p.second);
    }
    template <class T>
    void value(const std::vector<T>& v) {
        value(v.size());
        for (const auto& x : v) value(x);
    }
    template <class T>
    void value(const std::optional<T>& o) {
        value(o.has_value());
        if (o) value(*o);
    }
    template <class T>
        requires std::is_class_v<T>
    void value(const T& s) {
        fields(*this, s);
    }
};

class Decoder {
public:
    explicit Decoder(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    void fail() { ok_ = false; }
    bool done() const { return in_.empty(); }

    template <class T>
        requires std::is_arithmetic_v<T>
    void value(T& v) {
        uint64_t x = 0;
        if (!take(&x, sizeof x)) return;
        v = static_cast<T>(x);
    }
    void value(std::string& s) {
        size_t n = 0;
        value(n);
        if (!ok_ || n > in_.size()) {
            ok_ = false;
            return;
        }
        s.assign(in_.data(), n);
        in_.remove_prefix(n);
    }
    void value(struct rlimit& r) {
        value(r.rlim_cur);
        value(r.rlim_max);
    }
    void value(struct sock_filter& f) {
        value(f.code);
        value(f.jt);
        value(f.jf);
        value(f.k);
    }
    template <class A, class B>
    void value(std::pair<A, B>& p) {
        value(p.first);
        value(p.second);
    }
    template <class T>
    void value(std::vector<T>& v) {
        size_t n = 0;
        value(n);
        // Every element is at least one 8-byte value: a count beyond that is malformed, and
        // nothing larger than the input can be asked for.
        if (!ok_ || n > in_.size() / sizeof(uint64_t)) {
            ok_ = false;
            return;
        }
        v.clear();
        v.resize(n);
        for (auto& x : v) value(x);
    }
    template <class T>
    void value(std::optional<T>& o) {
        bool has = false;
        value(has);
        if (!ok_) return;
        if (has) {
            o.emplace();
            value(*o);
        } else {
            o.reset();
        }
    }
    template <class T>
        requires std::is_class_v<T>
    void value(T& s) {
        fields(*this, s);
    }

private:
    bool take(void* dst, size_t n) {
        if (!ok_ || in_.size() < n) {
            ok_ = false;
            return false;
        }
        memcpy(dst, in_.data(), n);
        in_.remove_prefix(n);
        return true;
    }
    std::string_view in_;
    bool ok_ = true;
};

#define KILN_PLAN_FIELDS(Type)                              \
    template <class V, class S>                             \
        requires std::same_as<std::remove_const_t<S>, Type> \
    void fields(V& v, S& s)

}  // namespace

KILN_PLAN_FIELDS(NamespaceJoin) {
    v.value(s.type);
    v.value(s.flag);
    v.value(s.path);
    v.value(s.fd);
}

KILN_PLAN_FIELDS(NamespacePlan) {
    v.value(s.new_flags);
    v.value(s.joins);
    v.value(s.two_stage);
    v.value(s.uid_map);
    v.value(s.gid_map);
    v.value(s.time_offsets);
}

KILN_PLAN_FIELDS(CgroupSubMount) {
    v.value(s.name);
    v.value(s.fstype);
    v.value(s.options);
    v.value(s.host_dir);
    v.value(s.links);
}

KILN_PLAN_FIELDS(MountStep) {
    v.value(s.field);
    v.value(s.destination);
    v.value(s.source);
    v.value(s.type);
    v.value(s.flags);
    v.value(s.bind);
    v.value(s.recursive);
    v.value(s.propagation);
    v.value(s.attr_set);
    v.value(s.attr_clr);
    v.value(s.idmap);
    v.value(s.idmap_recursive);
    v.value(s.idmap_userns_fd);
    v.value(s.tree_fd);
    v.value(s.data);
    v.value(s.cgroup_tree);
    v.value(s.tmpcopyup);
}

KILN_PLAN_FIELDS(DeviceNode) {
    v.value(s.field);
    v.value(s.path);
    v.value(s.mode);
    v.value(s.dev);
    v.value(s.uid);
    v.value(s.gid);
    v.value(s.chown);
}

KILN_PLAN_FIELDS(RootfsPlan) {
    v.value(s.rootfs);
    v.value(s.readonly);
    v.value(s.propagation);
    v.value(s.final_propagation);
    v.value(s.parent_mount);
    v.value(s.no_pivot);
    v.value(s.mounts);
    v.value(s.cgroup_mounts);
    v.value(s.own_cgroupns);
    v.value(s.setup_dev);
    v.value(s.bind_devices);
    v.value(s.devices);
    v.value(s.masked_paths);
    v.value(s.readonly_paths);
    v.value(s.hostname);
    v.value(s.domainname);
    v.value(s.set_hostname);
    v.value(s.set_domainname);
    v.value(s.sysctl);
    v.value(s.cwd);
}

KILN_PLAN_FIELDS(Capabilities) {
    v.value(s.bounding);
    v.value(s.effective);
    v.value(s.inheritable);
    v.value(s.permitted);
    v.value(s.ambient);
}

KILN_PLAN_FIELDS(SchedAttr) {
    v.value(s.policy);
    v.value(s.flags);
    v.value(s.nice);
    v.value(s.priority);
    v.value(s.runtime);
    v.value(s.deadline);
    v.value(s.period);
}

KILN_PLAN_FIELDS(RlimitStep) {
    v.value(s.type);
    v.value(s.resource);
    v.value(s.limit);
}

KILN_PLAN_FIELDS(SeccompProgram) {
    v.value(s.filter);
    v.value(s.flags);
    v.value(s.new_listener);
    v.value(s.listener_path);
    v.value(s.listener_metadata);
}

KILN_PLAN_FIELDS(ProcessPlan) {
    v.value(s.args);
    v.value(s.env);
    v.value(s.path_env);
    v.value(s.cwd);
    v.value(s.uid);
    v.value(s.gid);
    v.value(s.additional_gids);
    v.value(s.umask);
    v.value(s.caps);
    v.value(s.last_cap);
    v.value(s.rlimits);
    v.value(s.no_new_privileges);
    v.value(s.oom_score_adj);
    v.value(s.personality);
    v.value(s.ioprio);
    v.value(s.scheduler);
    v.value(s.terminal);
    v.value(s.console_height);
    v.value(s.console_width);
    v.value(s.seccomp);
    v.value(s.preserve_fds);
}

KILN_PLAN_FIELDS(HookExec) {
    v.value(s.field);
    v.value(s.args);
    v.value(s.env);
    v.value(s.path);
    v.value(s.timeout_s);
}

KILN_PLAN_FIELDS(InitPlan) {
    v.value(s.ns);
    v.value(s.rootfs);
    v.value(s.process);
    v.value(s.create_container_hooks);
    v.value(s.start_container_hooks);
    v.value(s.runtime_hooks);
    // Only the size of the buffer init receives its hooks' state into (bounded: kiln-init trusts
    // no size it decodes).
    size_t state_capacity = s.hook_state.size();
    v.value(state_capacity);
    if constexpr (!std::is_const_v<S>) {
        if (state_capacity > kMaxHookState) v.fail();
        else s.hook_state.resize(state_capacity);
    }
    v.value(s.console_socket);
    v.value(s.start_fd);
    v.value(s.session_keyring);
    v.value(s.cgroup_tasks);
}

KILN_PLAN_FIELDS(ExecPlan) {
    v.value(s.process);
    v.value(s.pidfd);
    v.value(s.join_flags);
    v.value(s.console_socket);
    v.value(s.cgroup_tasks);
}

std::string encode(const InitPlan& plan) {
    Encoder e;
    e.value(plan);
    return std::move(e.out);
}

std::string encode(const ExecPlan& plan) {
    Encoder e;
    e.value(plan);
    return std::move(e.out);
}

namespace {

// True when `bytes` is exactly one well-formed plan.
template <class Plan>
bool decode_whole(std::string_view bytes, Plan& plan) {
    Decoder d(bytes);
#if __cpp_exceptions
    try {
        d.value(plan);
    } catch (const std::exception&) {  // bad_alloc, length_error: malformed all the same
        return false;
    }
#else
    // kiln-init has no exceptions: its allocator ends the process when it cannot allocate.
    d.value(plan);
#endif
    return d.ok() && d.done();
}

}  // namespace

std::optional<InitPlan> decode_init_plan(std::string_view bytes) {
    InitPlan plan;
    if (!decode_whole(bytes, plan)) return std::nullopt;
    finalize_pointers(plan.process);
    for (auto& h : plan.create_container_hooks) finalize_pointers(h);
    for (auto& h : plan.start_container_hooks) finalize_pointers(h);
    return plan;
}

std::optional<ExecPlan> decode_exec_plan(std::string_view bytes) {
    ExecPlan plan;
    if (!decode_whole(bytes, plan)) return std::nullopt;
    finalize_pointers(plan.process);
    return plan;
}

}  // namespace kiln::container
