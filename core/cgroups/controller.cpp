// Shared plumbing of the controller files.
#include "core/cgroups/controller.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::cgroups {

bool Target::exists(const std::string& name) const { return ::access(file(name).c_str(), F_OK) == 0; }

std::string Target::read(const std::string& name) const {
    std::string s = read_file(file(name));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

namespace {

[[noreturn]] void write_failed(const std::string& path, const std::string& value, const std::string& field, int err) {
    std::string msg = field + ": write \"" + value + "\" to " + path + ": " + std::strerror(err);
    throw Error(err == ENOENT ? Errc::failed_precondition : Errc::invalid_argument, msg);
}

}  // namespace

void Target::write(const std::string& name, const std::string& value, const std::string& field) const {
    std::string path = file(name);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    int err = 0;
    if (fd < 0) {
        err = errno;
    } else {
        if (::write(fd, value.data(), value.size()) < 0) err = errno;
        ::close(fd);
    }
    if (err) write_failed(path, value, field, err);
}

void LineWriter::write(const std::string& value, const std::string& field) {
    if (!fd_) {
        fd_.reset(::open(target_.file(name_).c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd_) write_failed(target_.file(name_), value, field, errno);
    }
    if (::write(fd_.get(), value.data(), value.size()) < 0) write_failed(target_.file(name_), value, field, errno);
}

void unsupported(const std::string& field, const std::string& why) {
    throw Error(Errc::failed_precondition, field + ": " + why);
}

}  // namespace kiln::cgroups
