// The listener: binds the unix socket with its mode and group, accepts connections each onto
// a strand of their own, and owns the Asio threads and the handler threads.
#include "api/server/server.hpp"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "api/server/session.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/log.hpp"

namespace kiln::api {

namespace net = boost::asio;
using boost::system::error_code;
using Acceptor = net::local::stream_protocol::acceptor;

namespace {

sockaddr_un address_of(const std::string& path) {
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) invalid("socket path `" + path + "`: empty or too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

gid_t group_id(const std::string& group) {
    if (!group.empty() && group.find_first_not_of("0123456789") == std::string::npos)
        return static_cast<gid_t>(std::stoul(group));
    std::vector<char> buffer(16384);
    struct group entry = {};
    struct group* found = nullptr;
    int err = getgrnam_r(group.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (err != 0) throw_sys(err, "getgrnam_r", group);
    if (!found) not_found("group `" + group + "` does not exist");
    return found->gr_gid;
}

// A socket file at `path` is reused only when nobody answers on it: a kilnd that crashed
// leaves one behind, a running one must not be disturbed.
void clear_stale_socket(const std::string& path) {
    struct stat st = {};
    if (::lstat(path.c_str(), &st) < 0) {
        if (errno == ENOENT) return;
        throw_sys("lstat", path);
    }
    if (!S_ISSOCK(st.st_mode)) precondition(path + " exists and is not a socket");
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) throw_sys("socket", "AF_UNIX");
    sockaddr_un addr = address_of(path);
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
        throw Error(Errc::already_exists, "another server is listening on " + path);
    if (errno != ECONNREFUSED) throw_sys("connect", path);
    if (::unlink(path.c_str()) < 0 && errno != ENOENT) throw_sys("unlink", path);
}

void apply_owner_and_mode(const std::string& path, const ServerOptions& options) {
    if (!options.group.empty() && ::chown(path.c_str(), static_cast<uid_t>(-1), group_id(options.group)) < 0)
        throw_sys("chown", path + " :" + options.group);
    if (::chmod(path.c_str(), options.mode) < 0) throw_sys("chmod", path);
}

// Binds `fd` at `path` with the options' mode and group already applied when the name appears:
// the socket is made in a private directory beside it and renamed into place, so no client
// ever sees it with the umask's mode. When the private path would not fit in sun_path the
// socket is bound in place and fixed up at once.
void bind_socket(int fd, const std::string& path, const ServerOptions& options) {
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string private_dir = (dir == "/" ? "" : dir) + "/.kiln-sock-XXXXXX";
    const std::string private_path = private_dir + "/s";
    if (private_path.size() >= sizeof(sockaddr_un::sun_path)) {
        sockaddr_un addr = address_of(path);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_sys("bind", path);
        apply_owner_and_mode(path, options);
        return;
    }
    if (!::mkdtemp(private_dir.data())) throw_sys("mkdtemp", private_dir);
    const std::string bound = private_dir + "/s";
    try {
        sockaddr_un addr = address_of(bound);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_sys("bind", bound);
        apply_owner_and_mode(bound, options);
        if (::rename(bound.c_str(), path.c_str()) < 0) throw_sys("rename", bound + " " + path);
    } catch (...) {
        ::unlink(bound.c_str());
        ::rmdir(private_dir.c_str());
        throw;
    }
    ::rmdir(private_dir.c_str());
}

}  // namespace

struct Server::Impl {
    std::shared_ptr<detail::SessionContext> context = std::make_shared<detail::SessionContext>();
    std::unique_ptr<net::io_context> io;
    std::optional<Acceptor> acceptor;
    std::optional<net::steady_timer> retry;
    std::vector<std::thread> threads;
    Fd listening;  // bound by listen(), not yet accepted on
    bool started = false;
    bool stopped = false;
    dev_t socket_dev = 0;
    ino_t socket_ino = 0;

    void accept() {
        acceptor->async_accept(net::make_strand(*io), [this](error_code ec, detail::Socket socket) {
            if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
            if (ec) {
                // Out of fds or the like: keep serving the connections there are, and try again
                // a little later rather than spinning.
                detail::fail(ec, "accept");
                retry->expires_after(std::chrono::milliseconds(100));
                retry->async_wait([this](error_code wait_ec) {
                    if (!wait_ec) accept();
                });
                return;
            }
            detail::start_http_session(std::move(socket), context);
            accept();
        });
    }
};

Server::Server(ServerOptions options, std::shared_ptr<const Router> router) : impl_(std::make_unique<Impl>()) {
    if (!router) invalid("server: no router");
    if (options.threads < 1) invalid("server: threads must be at least 1");
    impl_->context->options = std::move(options);
    impl_->context->router = std::move(router);
}

Server::~Server() {
    try {
        stop();
    } catch (const std::exception& e) {
        log::error(std::string("api: stopping the server: ") + e.what());
    }
}

const ServerOptions& Server::options() const { return impl_->context->options; }

void Server::listen() {
    Impl& impl = *impl_;
    if (impl.started || impl.listening.get() >= 0) precondition("server: already listening");
    const ServerOptions& options = impl.context->options;
    const std::string& path = options.socket_path;

    clear_stale_socket(path);
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw_sys("socket", "AF_UNIX");
    bind_socket(fd.get(), path, options);
    struct stat st = {};
    if (::stat(path.c_str(), &st) == 0) {
        impl.socket_dev = st.st_dev;
        impl.socket_ino = st.st_ino;
    }
    if (::listen(fd.get(), SOMAXCONN) < 0) {
        ::unlink(path.c_str());
        throw_sys("listen", path);
    }
    impl.listening = std::move(fd);
}

void Server::start() {
    Impl& impl = *impl_;
    if (impl.started) precondition("server: already started");
    const ServerOptions& options = impl.context->options;
    const std::string& path = options.socket_path;
    if (impl.listening.get() < 0) listen();
    Fd fd = std::move(impl.listening);

    impl.io = std::make_unique<net::io_context>(options.threads);
    impl.acceptor.emplace(net::make_strand(*impl.io));
    impl.retry.emplace(impl.acceptor->get_executor());
    error_code ec;
    impl.acceptor->assign(net::local::stream_protocol(), fd.get(), ec);
    if (ec) {
        ::unlink(path.c_str());
        throw Error(Errc::internal, "listen on " + path + ": " + ec.message());
    }
    fd.release();
    impl.started = true;
    impl.accept();
    for (int i = 0; i < options.threads; ++i) {
        impl.threads.emplace_back([io = impl.io.get()] {
            // A handler that throws must not take the whole server down with it.
            while (true) {
                try {
                    io->run();
                    return;
                } catch (const std::exception& e) {
                    log::error(std::string("api: unhandled exception: ") + e.what());
                }
            }
        });
    }
}

void Server::stop() {
    Impl& impl = *impl_;
    if (!impl.started && impl.listening.get() >= 0) {
        // Listened, never served: the socket goes.
        impl.listening = Fd();
        struct stat st = {};
        const std::string& path = impl.context->options.socket_path;
        if (::stat(path.c_str(), &st) == 0 && st.st_dev == impl.socket_dev && st.st_ino == impl.socket_ino)
            ::unlink(path.c_str());
        return;
    }
    if (!impl.started || impl.stopped) return;
    impl.stopped = true;
    // Handler threads first: their channels close, so they return, while the Asio threads still
    // run the sessions they post to.
    impl.context->threads.stop();
    impl.io->stop();
    for (auto& thread : impl.threads) thread.join();
    impl.threads.clear();
    // Destroying the io_context destroys every session still waiting for I/O, closing its socket.
    impl.retry.reset();
    impl.acceptor.reset();
    impl.io.reset();

    struct stat st = {};
    const std::string& path = impl.context->options.socket_path;
    if (::stat(path.c_str(), &st) == 0 && st.st_dev == impl.socket_dev && st.st_ino == impl.socket_ino)
        ::unlink(path.c_str());
}

}  // namespace kiln::api
