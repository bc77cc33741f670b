// Errors for all of kiln: a category that callers (the CLI, the REST server) map to an exit or a
// status in one place, and a message that says what failed, on what, and why.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace kiln {

enum class Errc {
    not_found,
    already_exists,
    invalid_argument,
    failed_precondition,
    internal,
};

std::string_view errc_name(Errc code);

class Error : public std::runtime_error {
public:
    Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

// A failed system call. The message reads "<call> `<args>`: <strerror>" like crun's errors.
class SysError : public Error {
public:
    SysError(int err, const std::string& call, const std::string& args);
    int err() const noexcept { return err_; }

private:
    int err_;
};

[[noreturn]] void throw_sys(const std::string& call, const std::string& args = {});
[[noreturn]] void throw_sys(int err, const std::string& call, const std::string& args = {});

[[noreturn]] inline void invalid(const std::string& message) {
    throw Error(Errc::invalid_argument, message);
}
[[noreturn]] inline void not_found(const std::string& message) {
    throw Error(Errc::not_found, message);
}
[[noreturn]] inline void precondition(const std::string& message) {
    throw Error(Errc::failed_precondition, message);
}

}  // namespace kiln
