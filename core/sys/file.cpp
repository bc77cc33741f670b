// Small file helpers.
#include "core/sys/file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "core/sys/error.hpp"

namespace kiln {

Fd open_file(const std::string& path, int flags, mode_t mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) throw_sys("open", path);
    return Fd(fd);
}

std::string read_fd(int fd) {
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_sys("read", "fd " + std::to_string(fd));
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

std::string read_file(const std::string& path) {
    Fd fd = open_file(path, O_RDONLY);
    try {
        return read_fd(fd.get());
    } catch (const SysError& e) {
        throw_sys(e.err(), "read", path);
    }
}

std::optional<std::string> read_file_if_exists(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::nullopt;
        throw_sys("open", path);
    }
    Fd owned(fd);
    return read_fd(owned.get());
}

void write_all(int fd, std::string_view data, const std::string& what) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_sys("write", what);
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
}

ssize_t write_no_sigpipe(int fd, const void* data, size_t len) {
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n = ::write(fd, data, len);
    int err = errno;
    if (n < 0 && err == EPIPE) {
        // Take the SIGPIPE this write raised, unless one was already pending before.
        struct timespec none = {0, 0};
        if (!sigismember(&old, SIGPIPE)) sigtimedwait(&pipe_only, nullptr, &none);
    }
    sigprocmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return n;
}

void write_file(const std::string& path, std::string_view data, mode_t mode) {
    Fd fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    write_all(fd.get(), data, path);
}

void write_existing(const std::string& path, std::string_view data) {
    Fd fd = open_file(path, O_WRONLY);
    // Kernel interface files take one write; a short or failed write is the kernel's answer.
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0) throw_sys("write", std::string(data) + " to " + path);
}

void atomic_write(const std::string& path, std::string_view data, bool durable, mode_t mode) {
    std::string tmp = path + ".tmp";
    {
        Fd fd = open_file(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
        write_all(fd.get(), data, tmp);
        if (durable && ::fsync(fd.get()) < 0) throw_sys("fsync", tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) < 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw_sys(err, "rename", tmp + " to " + path);
    }
    if (durable) {
        auto slash = path.find_last_of('/');
        std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
        Fd dfd = open_file(dir, O_RDONLY | O_DIRECTORY);
        if (::fsync(dfd.get()) < 0) throw_sys("fsync", dir);
    }
}

bool mkdir_all(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) == 0) return true;
    if (errno == EEXIST) return false;
    if (errno != ENOENT) throw_sys("mkdir", path);
    auto slash = path.find_last_of('/');
    if (slash != std::string::npos && slash > 0) mkdir_all(path.substr(0, slash), mode);
    if (::mkdir(path.c_str(), mode) == 0) return true;
    if (errno == EEXIST) return false;
    throw_sys("mkdir", path);
}

void remove_all(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) throw_sys(ec.value(), "remove", path);
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace kiln
