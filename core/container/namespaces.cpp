// Joined namespaces and user namespaces for idmapped mounts.
#include "core/container/namespaces.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/oci/names.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::container {

void open_joined_namespaces(NamespacePlan& ns, const oci::Spec& spec) {
    for (auto& j : ns.joins) {
        size_t index = 0;
        for (size_t i = 0; i < spec.linux->namespaces.size(); ++i)
            if (spec.linux->namespaces[i].type == j.type) index = i;
        std::string field = "linux.namespaces[" + std::to_string(index) + "].path";
        int fd = ::open(j.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            close_joined_namespaces(ns);
            throw Error(errno == ENOENT ? Errc::not_found : Errc::invalid_argument,
                        field + ": " + j.path + ": " + std::strerror(errno));
        }
        j.fd = fd;
        int type = ::ioctl(fd, NS_GET_NSTYPE);
        if (type < 0) {
            close_joined_namespaces(ns);
            invalid(field + ": " + j.path + " is not a namespace");
        }
        if (type != j.flag) {
            std::string actual = "another type";
            for (const auto& t : oci::namespace_types())
                if (*oci::namespace_flag(t) == type) actual = t;
            close_joined_namespaces(ns);
            invalid(field + ": " + j.path + " is a " + actual + " namespace, not " + j.type);
        }
    }
}

void close_joined_namespaces(NamespacePlan& ns) {
    for (auto& j : ns.joins)
        if (j.fd >= 0) {
            ::close(j.fd);
            j.fd = -1;
        }
}

Fd make_userns(const std::string& uid_map, const std::string& gid_map) {
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) < 0) throw_sys("pipe2");
    Fd rd(pipefd[0]), wr(pipefd[1]);
    struct clone_args args = {};
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long pid = sys::clone3(&args);
    if (pid < 0) throw_sys("clone3", "CLONE_NEWUSER");
    if (pid == 0) {
        // Only holds the namespace open until the runtime has the fd.
        char c;
        ssize_t n = ::read(rd.get(), &c, 1);
        _exit(n < 0 ? 1 : 0);
    }
    auto reap = [&] {
        wr.reset();
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        while (::waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
        }
    };
    try {
        std::string base = "/proc/" + std::to_string(pid);
        write_existing(base + "/uid_map", uid_map);
        write_existing(base + "/gid_map", gid_map);
        Fd ns = open_file(base + "/ns/user", O_RDONLY);
        reap();
        return ns;
    } catch (...) {
        reap();
        throw;
    }
}

}  // namespace kiln::container
