// Connecting to a unix stream socket by path.
#include "core/sys/socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "core/sys/error.hpp"

namespace kiln {

Fd connect_unix(const std::string& path) {
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) invalid("socket path too long: " + path);
    memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw_sys("socket", "AF_UNIX");
    if (::connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0)
        throw_sys("connect", path);
    return fd;
}

}  // namespace kiln
