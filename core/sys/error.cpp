// Formatting of kiln errors.
#include "core/sys/error.hpp"

#include <cerrno>
#include <cstring>

namespace kiln {

std::string_view errc_name(Errc code) {
    switch (code) {
        case Errc::not_found: return "not_found";
        case Errc::already_exists: return "already_exists";
        case Errc::invalid_argument: return "invalid_argument";
        case Errc::failed_precondition: return "failed_precondition";
        case Errc::internal: return "internal";
    }
    return "internal";
}

static Errc category_of(int err) {
    switch (err) {
        case ENOENT: return Errc::not_found;
        case EEXIST: return Errc::already_exists;
        case EINVAL: return Errc::invalid_argument;
        default: return Errc::internal;
    }
}

static std::string format(int err, const std::string& call, const std::string& args) {
    std::string msg = call;
    if (!args.empty()) msg += " `" + args + "`";
    msg += ": ";
    msg += std::strerror(err);
    return msg;
}

SysError::SysError(int err, const std::string& call, const std::string& args)
    : Error(category_of(err), format(err, call, args)), err_(err) {}

void throw_sys(const std::string& call, const std::string& args) { throw SysError(errno, call, args); }

void throw_sys(int err, const std::string& call, const std::string& args) {
    throw SysError(err, call, args);
}

}  // namespace kiln
