// A container's root file system: overlayfs with the image's snapshots as lower layers and a
// private upper dir. The new mount API passes each lower dir on its own ("lowerdir+", Linux 6.8),
// which lifts the one-page limit of the option string; older kernels get mount(2).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "core/image/store.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"
#include "core/sys/idmap.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::image {

namespace {

int fsopen(const char* fs, unsigned flags) { return static_cast<int>(::syscall(SYS_fsopen, fs, flags)); }

int fsconfig(int fd, unsigned cmd, const char* key, const char* value) {
    return static_cast<int>(::syscall(SYS_fsconfig, fd, cmd, key, value, 0));
}

int fsmount(int fd, unsigned flags, unsigned attrs) {
    return static_cast<int>(::syscall(SYS_fsmount, fd, flags, attrs));
}

// The kernel's own words on why the configuration failed, queued on the context fd.
std::string context_messages(int fd) {
    std::string out;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf - 1);
        if (n <= 0) break;
        if (!out.empty()) out += "; ";
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

[[noreturn]] void overlay_failed(int err, const std::string& call, const std::string& target, int context) {
    std::string messages = context >= 0 ? context_messages(context) : "";
    throw SysError(err, call, "overlay at " + target + (messages.empty() ? "" : " (" + messages + ")"));
}

// "lowerdir+" came with Linux 6.8. Earlier kernels may accept the key at fsconfig time (through
// the legacy option string) and fail only at create, so the release decides, not a trial.
bool kernel_has_lowerdir_plus() {
    struct utsname u;
    if (::uname(&u) < 0) return false;
    int major = 0, minor = 0;
    if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 6 || (major == 6 && minor >= 8);
}

void mount_with_fs_context(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                           const std::string& target) {
    int raw = fsopen("overlay", FSOPEN_CLOEXEC);
    if (raw < 0) throw_sys("fsopen", "overlay");
    Fd context(raw);
    for (const auto& lower : lowers)
        if (fsconfig(context.get(), FSCONFIG_SET_STRING, "lowerdir+", lower.c_str()) < 0)
            overlay_failed(errno, "fsconfig lowerdir+ " + lower, target, context.get());
    if (fsconfig(context.get(), FSCONFIG_SET_STRING, "upperdir", upper.c_str()) < 0)
        overlay_failed(errno, "fsconfig upperdir " + upper, target, context.get());
    if (fsconfig(context.get(), FSCONFIG_SET_STRING, "workdir", work.c_str()) < 0)
        overlay_failed(errno, "fsconfig workdir " + work, target, context.get());
    if (fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr) < 0)
        overlay_failed(errno, "fsconfig create", target, context.get());
    raw = fsmount(context.get(), FSMOUNT_CLOEXEC, 0);
    if (raw < 0) overlay_failed(errno, "fsmount", target, context.get());
    Fd mnt(raw);
    if (sys::move_mount(mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
        throw_sys("move_mount", "overlay to " + target);
}

void mount_legacy(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                  const std::string& target) {
    auto check = [](const std::string& path) {
        if (path.find_first_of(",:") != std::string::npos)
            invalid("overlay dir " + path + " has a ',' or ':', which the overlay option string cannot carry");
    };
    std::string data = "lowerdir=";
    for (std::size_t i = 0; i < lowers.size(); ++i) {
        check(lowers[i]);
        data += (i ? ":" : "") + lowers[i];
    }
    check(upper);
    check(work);
    data += ",upperdir=" + upper + ",workdir=" + work;
    long page = ::sysconf(_SC_PAGESIZE);
    if (static_cast<long>(data.size()) >= page)
        invalid("overlay at " + target + ": " + std::to_string(lowers.size()) +
                " layers are more than this kernel's mount(2) options can hold (Linux 6.8 lifts the limit)");
    if (::mount("overlay", target.c_str(), "overlay", 0, data.c_str()) < 0) throw_sys("mount overlay", target);
}

void mount_overlay(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                   const std::string& target) {
    if (kernel_has_lowerdir_plus())
        mount_with_fs_context(lowers, upper, work, target);
    else
        mount_legacy(lowers, upper, work, target);
}

// An idmapped clone of `source` attached at `at`.
void mount_idmapped(const std::string& source, const std::string& at, int userns_fd) {
    mkdir_all(at, 0700);
    Fd tree = sys::idmapped_clone(source.c_str(), userns_fd);
    if (!tree) throw_sys("idmapping", source);
    if (sys::move_mount(tree.get(), "", AT_FDCWD, at.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) throw_sys("move_mount", at);
}

void mount_idmapped_overlay(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                            const std::string& target, const RootfsIdmap& idmap) {
    // upper and work share a parent (one mount for both, as overlayfs wants them on one).
    std::string dir = upper.substr(0, upper.find_last_of('/'));
    if (work.substr(0, work.find_last_of('/')) != dir)
        invalid("overlay at " + target + ": an idmapped upper and work dir must share a parent directory");
    std::string staging = dir + "/idmap";
    std::vector<std::string> staged;
    auto detach = [&] {
        for (const auto& s : staged) {
            ::umount2(s.c_str(), MNT_DETACH);
            ::rmdir(s.c_str());
        }
        ::rmdir(staging.c_str());
    };
    std::exception_ptr failure;
    try {
        std::vector<std::string> idmapped_lowers;
        for (std::size_t i = 0; i < lowers.size(); ++i) {
            std::string at = staging + "/l" + std::to_string(i);
            mount_idmapped(lowers[i], at, idmap.userns_fd);
            staged.push_back(at);
            idmapped_lowers.push_back(at);
        }
        std::string rw = staging + "/rw";
        mount_idmapped(dir, rw, idmap.userns_fd);
        staged.push_back(rw);
        std::string up = rw + upper.substr(dir.size()), wk = rw + work.substr(dir.size());
        // overlayfs works in the upper dir with its creator's credentials: on a thread of its
        // own, whose fsuid and fsgid are the namespace root's (which the idmapped mounts can
        // write as) and whose effective capabilities are all it may have.
        std::thread([&] {
            try {
                ::syscall(SYS_setfsuid, idmap.uid);
                ::syscall(SYS_setfsgid, idmap.gid);
                struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
                struct __user_cap_data_struct d[2] = {};
                if (::syscall(SYS_capget, &h, d) < 0) throw_sys("capget", "overlay");
                d[0].effective = d[0].permitted;
                d[1].effective = d[1].permitted;
                if (::syscall(SYS_capset, &h, d) < 0) throw_sys("capset", "overlay");
                mount_overlay(idmapped_lowers, up, wk, target);
            } catch (...) {
                failure = std::current_exception();
            }
        }).join();
    } catch (...) {
        failure = std::current_exception();
    }
    // The overlay holds its layers: the staging mounts go either way.
    detach();
    if (failure) std::rethrow_exception(failure);
}

}  // namespace

void mount_rootfs(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                  const std::string& target, const RootfsIdmap* idmap) {
    if (lowers.empty()) invalid("overlay at " + target + ": an image without layers has nothing to mount");
    mkdir_all(upper, 0755);
    mkdir_all(work, 0700);
    mkdir_all(target, 0755);
    if (idmap)
        mount_idmapped_overlay(lowers, upper, work, target, *idmap);
    else
        mount_overlay(lowers, upper, work, target);
}

void unmount_rootfs(const std::string& target) {
    if (::umount2(target.c_str(), MNT_DETACH) < 0) throw_sys("umount2", target);
}

}  // namespace kiln::image
