// The monitor's loop: container output to the log and to attach clients, stdin from them,
// signals and state on request, and the record of the exit.
#include "core/monitor/monitor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <deque>
#include <list>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/monitor/log_writer.hpp"
#include "core/monitor/protocol.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"
#include "core/sys/socket.hpp"
#include "core/sys/spawn.hpp"

namespace kiln::monitor {
namespace {

// An attach client whose unread output passes this is disconnected rather than slowing the
// container down or growing the monitor.
constexpr std::size_t kMaxClientBacklog = 4 << 20;
// After the container's init exits, output still in flight is drained for at most this long
// (a process outside a pid namespace may keep the pipe open forever).
constexpr int kDrainMs = 2000;
// Recent output kept for an attach that asks for it ({"logs":true}): what a client attaching
// right after the start would otherwise miss (a shell's first prompt).
constexpr std::size_t kRecentBytes = 64 << 10;

using Json = nlohmann::json;

struct Client {
    Fd fd;
    FrameReader reader;
    std::string out;
    bool attached = false;
    bool writes_stdin = false;
    bool closing = false;  // close once `out` is written
};

Fd listen_on(const std::string& path) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw_sys("socket", path);
    struct sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) invalid("socket path too long: " + path);
    path.copy(addr.sun_path, path.size());
    ::unlink(path.c_str());
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) throw_sys("bind", path);
    ::chmod(path.c_str(), 0600);
    if (::listen(fd.get(), 16) < 0) throw_sys("listen", path);
    return fd;
}

void set_nonblock(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

struct Pipe {
    Fd read, write;
};
Pipe make_pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe2");
    return {Fd(p[0]), Fd(p[1])};
}

void report_ready(int fd, const Json& j) {
    if (fd < 0) return;
    std::string line = j.dump() + "\n";
    write_no_sigpipe(fd, line.data(), line.size());
    ::close(fd);
}

// kiln-runtime does the container work (create, start, delete), as runc does for conmon: the
// monitor that stays for the container's life is then small. Its own errors go to a log of
// their own (JSON lines), apart from the container's stderr; the last error is `*error`.
int call_runtime(const Options& o, const std::vector<std::string>& args, int in, int out, int err, std::string* error) {
    std::string log_path = o.status_path.substr(0, o.status_path.find_last_of('/') + 1) + "runtime.log";
    ::unlink(log_path.c_str());
    std::vector<std::string> argv = {o.runtime_binary, "--root", o.runtime_root, "--log", log_path, "--log-format", "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    SpawnOptions so;
    so.stdio_fds[0] = in;
    so.stdio_fds[1] = out;
    so.stdio_fds[2] = err;
    int code = wait_child(spawn(argv, so));
    if (code != 0 && error) {
        std::string text = read_file_if_exists(log_path).value_or("");
        std::size_t pos = 0;
        while (pos < text.size()) {
            std::size_t nl = text.find('\n', pos);
            auto j = Json::parse(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos), nullptr, false);
            if (j.is_object() && j.value("level", "") == "error") *error = j.value("msg", "");
            pos = nl == std::string::npos ? text.size() : nl + 1;
        }
        if (error->empty()) *error = "kiln-runtime " + args[0] + " exited with " + std::to_string(code);
    }
    ::unlink(log_path.c_str());
    return code;
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 255;
}

class Loop {
public:
    Loop(const Options& o, pid_t pid, std::string started_at)
        : o_(o), pid_(pid), started_at_(std::move(started_at)),
          log_(o.log_path, o.log_max_size, o.log_max_files) {}

    Fd listener, out, err, master, stdin_w, signals;

    void run();

private:
    void accept_clients();
    void on_client_readable(Client& c);
    void on_control(Client& c, const Json& req);
    void broadcast(FrameKind kind, std::string_view data);
    bool read_output(Fd& fd, std::string_view stream);
    void on_signal();
    void send(Client& c, FrameKind kind, std::string_view payload);
    void flush_client(Client& c);
    void write_stdin(std::string_view data);
    void finish();

    const Options& o_;
    pid_t pid_;
    std::string started_at_;
    LogWriter log_;
    std::list<Client> clients_;
    std::deque<std::string> recent_;  // encoded output frames, oldest first
    std::size_t recent_bytes_ = 0;
    std::string stdin_buf_;
    bool stdin_eof_ = false;
    std::optional<int> status_;
    std::string finished_at_;
    std::chrono::steady_clock::time_point drain_deadline_;
};

void Loop::send(Client& c, FrameKind kind, std::string_view payload) {
    if (c.closing && kind != FrameKind::exit) return;
    c.out += encode_frame(kind, payload);
    if (c.out.size() > kMaxClientBacklog) {
        c.out.clear();
        c.closing = true;
        ::shutdown(c.fd.get(), SHUT_RDWR);
    }
}

void Loop::flush_client(Client& c) {
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            c.out.clear();
            c.closing = true;
            return;
        }
        c.out.erase(0, static_cast<std::size_t>(n));
    }
}

void Loop::broadcast(FrameKind kind, std::string_view data) {
    for (auto& c : clients_)
        if (c.attached) send(c, kind, data);
    recent_.push_back(encode_frame(kind, data));
    recent_bytes_ += recent_.back().size();
    while (recent_bytes_ > kRecentBytes && recent_.size() > 1) {
        recent_bytes_ -= recent_.front().size();
        recent_.pop_front();
    }
}

bool Loop::read_output(Fd& fd, std::string_view stream) {
    char buf[65536];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) {  // EOF, or EIO from a pty whose last slave closed
        fd.reset();
        return false;
    }
    std::string_view data(buf, static_cast<std::size_t>(n));
    log_.write(stream, data);
    broadcast(stream == "stderr" ? FrameKind::stderr_data : FrameKind::stdout_data, data);
    return true;
}

void Loop::write_stdin(std::string_view data) {
    int fd = master ? master.get() : stdin_w.get();
    if (fd < 0) return;
    stdin_buf_.append(data);
    while (!stdin_buf_.empty()) {
        ssize_t n = ::write(fd, stdin_buf_.data(), stdin_buf_.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN) {
                stdin_buf_.clear();
                stdin_w.reset();
            }
            return;
        }
        stdin_buf_.erase(0, static_cast<std::size_t>(n));
    }
    if (stdin_eof_ && !master) stdin_w.reset();
}

void Loop::on_control(Client& c, const Json& req) {
    std::string op = req.value("op", "");
    if (op == "attach") {
        c.attached = true;
        if (req.value("logs", false))
            for (const auto& f : recent_) c.out += f;
        c.writes_stdin = req.value("stdin", false) && (stdin_w || master);
        if (status_ && !out && !err && !master) c.closing = true;
    } else if (op == "state") {
        Json j{{"id", o_.id}, {"pid", pid_}, {"running", !status_.has_value()}, {"started_at", started_at_},
               {"monitor_pid", ::getpid()}};
        if (status_) j["exit_code"] = *status_;
        send(c, FrameKind::control, j.dump());
        c.closing = true;
    } else if (op == "signal") {
        int sig = req.value("signal", 0);
        Json j{{"ok", true}};
        if (sig <= 0 || sig >= 65) j = {{"error", "signal: out of range"}};
        else if (!status_ && ::kill(pid_, sig) < 0 && errno != ESRCH)
            j = {{"error", std::string("kill: ") + ::strerror(errno)}};
        send(c, FrameKind::control, j.dump());
        c.closing = true;
    } else if (op == "resize") {
        if (master) {
            struct winsize ws{};
            ws.ws_row = static_cast<unsigned short>(req.value("rows", 24));
            ws.ws_col = static_cast<unsigned short>(req.value("cols", 80));
            ::ioctl(master.get(), TIOCSWINSZ, &ws);
        }
    } else {
        send(c, FrameKind::control, Json{{"error", "unknown op \"" + op + "\""}}.dump());
        c.closing = true;
    }
}

void Loop::on_client_readable(Client& c) {
    char buf[65536];
    ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        c.fd.reset();
        return;
    }
    c.reader.feed(buf, static_cast<std::size_t>(n));
    try {
        while (auto f = c.reader.next()) {
            if (f->kind == FrameKind::control) {
                Json req = Json::parse(f->payload, nullptr, false);
                if (!req.is_object()) {
                    send(c, FrameKind::control, Json{{"error", "control frame: not a JSON object"}}.dump());
                    c.closing = true;
                } else {
                    on_control(c, req);
                }
            } else if (f->kind == FrameKind::stdin_data && c.writes_stdin && !status_) {
                if (f->payload.empty()) {
                    stdin_eof_ = true;
                    if (!master && stdin_buf_.empty()) stdin_w.reset();
                } else {
                    write_stdin(f->payload);
                }
            }
        }
    } catch (const Error& e) {
        c.fd.reset();
    }
}

void Loop::accept_clients() {
    for (;;) {
        int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;
        clients_.push_back(Client{Fd(fd), {}, {}, false, false, false});
    }
}

void Loop::on_signal() {
    struct signalfd_siginfo si;
    while (::read(signals.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
            int st;
            pid_t w;
            // A subreaper: orphans of the container come here too; only init's status counts.
            while ((w = ::waitpid(-1, &st, WNOHANG)) > 0)
                if (w == pid_ && !status_) {
                    status_ = exit_code_of(st);
                    finished_at_ = rfc3339_now();
                    drain_deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMs);
                }
        } else if (!status_) {
            // SIGTERM / SIGINT / SIGHUP sent to the monitor are meant for the container.
            ::kill(pid_, static_cast<int>(si.ssi_signo));
        }
    }
}

void Loop::run() {
    for (;;) {
        bool output_open = out || err || master;
        if (status_ && (!output_open || std::chrono::steady_clock::now() >= drain_deadline_)) break;
        std::vector<struct pollfd> fds;
        fds.push_back({signals.get(), POLLIN, 0});
        fds.push_back({listener.get(), POLLIN, 0});
        int out_i = -1, err_i = -1, master_i = -1, stdin_i = -1;
        if (out) out_i = static_cast<int>(fds.size()), fds.push_back({out.get(), POLLIN, 0});
        if (err) err_i = static_cast<int>(fds.size()), fds.push_back({err.get(), POLLIN, 0});
        if (master) master_i = static_cast<int>(fds.size()), fds.push_back({master.get(), POLLIN, 0});
        if (!stdin_buf_.empty() && (stdin_w || master))
            stdin_i = static_cast<int>(fds.size()),
            fds.push_back({master ? master.get() : stdin_w.get(), POLLOUT, 0});
        std::size_t first_client = fds.size();
        for (auto& c : clients_)
            fds.push_back({c.fd.get(), static_cast<short>((c.closing ? 0 : POLLIN) | (c.out.empty() ? 0 : POLLOUT)), 0});
        int timeout = -1;
        if (status_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline_ - std::chrono::steady_clock::now());
            timeout = left.count() < 0 ? 0 : static_cast<int>(left.count());
        }
        int r = ::poll(fds.data(), fds.size(), timeout);
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_sys("poll");
        }
        auto ready = [&](int i) { return i >= 0 && (fds[static_cast<std::size_t>(i)].revents & (POLLIN | POLLHUP | POLLERR)); };
        if (ready(0)) on_signal();
        if (ready(out_i)) read_output(out, "stdout");
        if (ready(err_i)) read_output(err, "stderr");
        if (ready(master_i)) read_output(master, "stdout");
        if (stdin_i >= 0 && fds[static_cast<std::size_t>(stdin_i)].revents) write_stdin({});
        std::size_t i = first_client;
        for (auto& c : clients_) {
            short rev = fds[i++].revents;
            if (!c.fd) continue;
            if (rev & POLLIN) on_client_readable(c);
            if (c.fd && (rev & POLLOUT)) flush_client(c);
            if (c.fd && (rev & (POLLERR | POLLHUP)) && !(rev & POLLIN)) c.fd.reset();
        }
        if (ready(1)) accept_clients();
        for (auto& c : clients_) {
            if (c.fd && !c.out.empty()) flush_client(c);
            if (c.fd && c.closing && c.out.empty()) c.fd.reset();
        }
        clients_.remove_if([](const Client& c) { return !c.fd; });
    }
    finish();
}

void Loop::finish() {
    log_.flush();
    if (!status_) status_ = 255;
    // The container's remains (cgroups, runtime state) are kilnd's to delete once it has read
    // the status: that keeps kiln-runtime's exec off the path from the exit to its report.
    Json status{{"id", o_.id}, {"pid", pid_}, {"exit_code", *status_}, {"started_at", started_at_},
                {"finished_at", finished_at_.empty() ? rfc3339_now() : finished_at_}};
    try {
        atomic_write(o_.status_path, status.dump(), true, 0644);
    } catch (const Error& e) {
        log::error(std::string("writing the exit status: ") + e.what());
    }
    // Attached clients get the exit frame; give them a moment to read it.
    // Replies still queued (a signal's answer) go out too.
    for (auto& c : clients_) {
        if (!c.fd) continue;
        if (c.attached) send(c, FrameKind::exit, status.dump());
        set_nonblock(c.fd.get());
        for (int tries = 0; tries < 50 && !c.out.empty() && c.fd; ++tries) {
            flush_client(c);
            if (c.out.empty()) break;
            struct pollfd p{c.fd.get(), POLLOUT, 0};
            ::poll(&p, 1, 20);
        }
    }
    clients_.clear();
    ::unlink(o_.socket_path.c_str());
}

}  // namespace

int run(const Options& o) {
    // A subreaper: the container's init, started by kiln-runtime, becomes our child when
    // kiln-runtime exits.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);

    Fd ready(o.ready_fd);
    ::fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC);
    Fd listener, console;
    std::string console_path = o.socket_path + ".console";
    struct RemoveConsole {
        const std::string& path;
        ~RemoveConsole() { ::unlink(path.c_str()); }
    } remove_console{console_path};
    Pipe out, err, in;
    bool created_ok = false;
    try {
        Json config = Json::parse(read_file(o.bundle + "/config.json"), nullptr, false);
        if (!config.is_object()) invalid(o.bundle + "/config.json: not a JSON object");
        bool terminal = config.value("/process/terminal"_json_pointer, false);
        listener = listen_on(o.socket_path);
        Fd devnull = open_file("/dev/null", O_RDWR | O_CLOEXEC);
        std::string pid_file = o.status_path.substr(0, o.status_path.find_last_of('/') + 1) + "init.pid";
        std::vector<std::string> args = {"run", "--detach", "--bundle", o.bundle, "--pid-file", pid_file};
        int stdio[3] = {devnull.get(), devnull.get(), devnull.get()};
        if (terminal) {
            console = listen_on(console_path);
            args.push_back("--console-socket");
            args.push_back(console_path);
        } else {
            out = make_pipe();
            err = make_pipe();
            if (o.stdin_open) in = make_pipe();
            stdio[0] = o.stdin_open ? in.read.get() : devnull.get();
            stdio[1] = out.write.get();
            stdio[2] = err.write.get();
        }
        args.push_back(o.id);
        std::string error;
        if (call_runtime(o, args, stdio[0], stdio[1], stdio[2], &error) != 0)
            throw Error(Errc::failed_precondition, error);
        created_ok = true;
        out.write.reset();
        err.write.reset();
        in.read.reset();
        pid_t pid = 0;
        try {
            pid = std::stoi(read_file(pid_file));
        } catch (const std::invalid_argument&) {
            throw Error(Errc::internal, pid_file + ": not a pid");
        }
        ::unlink(pid_file.c_str());
        std::string started_at = rfc3339_now();

        Loop loop(o, pid, started_at);
        if (terminal) {
            // kiln-runtime connected and sent the master before it returned: it waits in the backlog.
            set_nonblock(console.get());
            Fd conn(::accept4(console.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!conn) throw_sys("accept", console_path);
            char name[64];
            size_t got = 0;
            int m = recv_fd(conn.get(), name, sizeof name, &got);
            if (m < 0) throw_sys(-m, "receive the pty master");
            loop.master.reset(m);
            set_nonblock(m);
        }
        console.reset();
        loop.listener = std::move(listener);
        loop.out = std::move(out.read);
        loop.err = std::move(err.read);
        loop.stdin_w = std::move(in.write);
        if (loop.stdin_w) set_nonblock(loop.stdin_w.get());
        loop.signals.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!loop.signals) throw_sys("signalfd");
        report_ready(ready.release(), Json{{"pid", pid}, {"started_at", started_at}});
        loop.run();
        return 0;
    } catch (const std::exception& e) {
        const auto* ke = dynamic_cast<const Error*>(&e);
        std::string code(ke ? errc_name(ke->code()) : "internal");
        log::error(e.what());
        if (created_ok) {
            std::string error;
            if (call_runtime(o, {"delete", "--force", o.id}, -1, -1, -1, &error) != 0)
                log::error("removing container " + o.id + ": " + error);
        }
        if (ready) report_ready(ready.release(), Json{{"error", e.what()}, {"code", code}});
        if (listener) ::unlink(o.socket_path.c_str());
        return 1;
    }
}

}  // namespace kiln::monitor
