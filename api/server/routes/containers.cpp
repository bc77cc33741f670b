// /v1/pods/{name}/containers/{container}/...: logs, exec (plain and WebSocket), attach, and the
// pod's stats. Exec runs `kiln-runtime exec` (spawned, never forked from kilnd); attach speaks to
// the container's monitor.
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "api/server/routes/routes.hpp"
#include "api/server/streaming.hpp"
#include "core/cgroups/layout.hpp"
#include "core/daemon/bundle.hpp"
#include "core/daemon/pod_stats.hpp"
#include "core/monitor/protocol.hpp"
#include "core/sys/error.hpp"
#include "core/sys/fd.hpp"
#include "core/sys/file.hpp"
#include "core/sys/proc.hpp"
#include "core/sys/socket.hpp"
#include "core/sys/spawn.hpp"
#include "core/sys/syscalls.hpp"

namespace kiln::api {
namespace {

using nlohmann::json;

// Output an exec without a WebSocket may return; beyond it the call fails rather than grow.
constexpr std::size_t kMaxExecOutput = 16 << 20;

struct Target {
    std::string pod, container;
};

Target target(const Request& req, daemon::Daemon& d) {
    Target t{req.param("name"), req.param("container")};
    d.pods().container(t.pod, t.container);  // not_found naming what is missing
    return t;
}

void require_running(daemon::Daemon& d, const Target& t) {
    auto c = d.pods().container(t.pod, t.container);
    if (c.state != daemon::State::running)
        precondition("container " + t.container + " of pod " + t.pod + " is " + std::string(daemon::state_name(c.state)) +
                     ", not running");
}

// --- logs ---------------------------------------------------------------------------------

std::string since_param(const Request& req) {
    auto it = req.query.find("since");
    if (it == req.query.end() || it->second.empty()) return {};
    const std::string& v = it->second;
    if (v.find_first_not_of("0123456789") == std::string::npos) {
        std::time_t secs = static_cast<std::time_t>(std::stoll(v));
        std::tm tm{};
        ::gmtime_r(&secs, &tm);
        char buf[64];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000000Z", &tm);
        return buf;
    }
    // YYYY-MM-DDTHH:MM:SS[.fraction]Z, the fraction padded to the log's nine digits so that
    // times compare as text.
    auto digits = [&](std::size_t from, std::size_t n) {
        for (std::size_t i = from; i < from + n; ++i)
            if (i >= v.size() || !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
        return true;
    };
    bool ok = v.size() >= 20 && digits(0, 4) && v[4] == '-' && digits(5, 2) && v[7] == '-' && digits(8, 2) &&
              v[10] == 'T' && digits(11, 2) && v[13] == ':' && digits(14, 2) && v[16] == ':' && digits(17, 2) &&
              v.back() == 'Z';
    std::string fraction;
    if (ok && v.size() > 20) {
        ok = v[19] == '.' && v.size() - 21 >= 1 && v.size() - 21 <= 9 && digits(20, v.size() - 21);
        if (ok) fraction = v.substr(20, v.size() - 21);
    }
    if (!ok) invalid("since: must be unix seconds or an RFC 3339 UTC time like 2026-01-02T03:04:05Z, got \"" + v + "\"");
    fraction.resize(9, '0');
    return v.substr(0, 19) + "." + fraction + "Z";
}

long tail_param(const Request& req) {
    auto it = req.query.find("tail");
    if (it == req.query.end() || it->second == "all" || it->second.empty()) return -1;
    try {
        std::size_t used = 0;
        long n = std::stol(it->second, &used);
        if (used == it->second.size() && n >= 0) return n;
    } catch (...) {
    }
    invalid("tail: must be a number of lines >= 0 or \"all\", got \"" + it->second + "\"");
}

struct LogFormat {
    bool timestamps = false;
    bool json = false;  // each line the log entry itself: {"stream","time","text"}
    std::string since;
};

// One log-file line as the client sees it; empty when filtered out.
std::string render(const std::string& line, const LogFormat& f) {
    auto j = json::parse(line, nullptr, false);
    if (!j.is_object()) return {};
    std::string time = j.value("time", "");
    if (!f.since.empty() && time < f.since) return {};
    if (f.json) return line + "\n";
    std::string out;
    if (f.timestamps) out = time + " ";
    out += j.value("text", "");
    if (!j.value("partial", false)) out += "\n";
    return out;
}

std::vector<std::string> log_files(const std::string& path) {
    std::vector<std::string> files;
    for (int i = 32; i >= 1; --i)
        if (path_exists(path + "." + std::to_string(i))) files.push_back(path + "." + std::to_string(i));
    files.push_back(path);
    return files;
}

void serve_logs(daemon::Daemon& d, const Target& t, const Request& req, StreamWriter& out) {
    std::string format = req.query_or("format", "text");
    if (format != "text" && format != "json") invalid("format: must be text or json, got \"" + format + "\"");
    LogFormat f{req.query_flag("timestamps", false), format == "json", since_param(req)};
    long tail = tail_param(req);
    bool follow = req.query_flag("follow", false);
    std::string path = d.pods().log_path(t.pod, t.container);
    std::string dir = path.substr(0, path.find_last_of('/'));

    // Watched before anything is read, so that nothing written meanwhile goes unnoticed: the
    // log growing or rotating, and status.json, which the monitor writes once the container has
    // ended and its output is all in the log.
    // Closing an inotify instance waits out an RCU grace period (10 ms here): it is closed off
    // the response's path, and not made at all for a container that has already ended.
    struct Notify {
        int fd = -1;
        ~Notify() {
            if (fd >= 0) std::thread([fd = fd] { ::close(fd); }).detach();
        }
    } notify;
    if (follow) {
        auto c = d.pods().container(t.pod, t.container);
        auto pod = d.pods().get(t.pod);
        bool ended = c.state != daemon::State::running &&
                     !(pod.want_running && pod.spec.restart_policy.kind != daemon::RestartPolicy::Kind::never);
        if (!ended) {
            notify.fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
            if (notify.fd >= 0)
                ::inotify_add_watch(notify.fd, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE);
        }
    }
    std::vector<std::string> lines;
    auto files = log_files(path);
    for (std::size_t i = 0; i + 1 < files.size(); ++i) {
        std::ifstream rotated(files[i]);
        std::string line;
        while (std::getline(rotated, line))
            if (std::string r = render(line, f); !r.empty()) lines.push_back(std::move(r));
    }
    // The current file is read through the stream that follows it.
    struct stat st{};
    ::stat(path.c_str(), &st);
    ino_t inode = st.st_ino;
    std::ifstream in(path);
    std::string pending;
    // Complete lines from `in`, each passed to `emit`; a line without its newline waits.
    auto read_lines = [&](const std::function<bool(std::string)>& emit) {
        bool got = false;
        std::string line;
        while (std::getline(in, line)) {
            if (in.eof()) {  // no newline yet: the monitor is mid-write
                pending += line;
                break;
            }
            got = true;
            std::string r = render(pending + line, f);
            pending.clear();
            if (!r.empty() && !emit(std::move(r))) return false;
        }
        in.clear();
        return got;
    };
    read_lines([&](std::string r) {
        lines.push_back(std::move(r));
        return true;
    });
    std::size_t first = tail >= 0 && lines.size() > static_cast<std::size_t>(tail) ? lines.size() - static_cast<std::size_t>(tail) : 0;
    std::string chunk;
    for (std::size_t i = first; i < lines.size(); ++i) {
        chunk += lines[i];
        if (chunk.size() > 65536) {
            if (!out.write(chunk)) return;
            chunk.clear();
        }
    }
    if (!out.write(chunk)) return;
    if (!follow) return;

    bool client_gone = false;
    auto emit = [&](std::string r) {
        client_gone = !out.write(r);
        return !client_gone;
    };
    bool last_pass = false;
    bool status_seen = false;  // status.json appeared (or was already collected and removed)
    while (!out.closed()) {
        bool got = read_lines(emit);
        if (client_gone) return;
        if (got) continue;
        if (::stat(path.c_str(), &st) == 0 && st.st_ino != inode) {
            inode = st.st_ino;
            in = std::ifstream(path);
            pending.clear();
            continue;
        }
        if (last_pass) return;
        // status.json before the record: kilnd saves the record before it removes status.json.
        status_seen = status_seen || path_exists(dir + "/status.json");
        daemon::ContainerStatus c;
        daemon::PodRecord pod;
        try {
            pod = d.pods().get(t.pod);
            c = d.pods().container(t.pod, t.container);
        } catch (const Error&) {
            return;  // the pod was deleted
        }
        // Ended for good: not running and no restart to come. A container that has just exited
        // (its status.json is there) under the never policy will not run again either.
        bool exited = status_seen || c.state != daemon::State::running;
        bool may_restart = pod.want_running && pod.spec.restart_policy.kind != daemon::RestartPolicy::Kind::never;
        if (exited && !may_restart) {
            last_pass = true;  // one more read: the last lines came before the status
            continue;
        }
        struct pollfd p{notify.fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) > 0) {
            alignas(struct inotify_event) char buf[4096];
            ssize_t n;
            while ((n = ::read(notify.fd, buf, sizeof buf)) > 0) {
                for (char* e = buf; e < buf + n;) {
                    auto* ev = reinterpret_cast<struct inotify_event*>(e);
                    if (ev->len && std::string_view(ev->name) == "status.json") status_seen = true;
                    e += sizeof(struct inotify_event) + ev->len;
                }
            }
        }
    }
}

// --- exec ---------------------------------------------------------------------------------

struct ExecRequest {
    std::vector<std::string> command;
    std::vector<std::string> env;
    std::string working_dir, user;
    bool tty = false;
    std::string input;
    unsigned rows = 0, cols = 0;  // the terminal's size from the start
};

ExecRequest parse_exec(const json& j) {
    if (!j.is_object()) invalid("body: must be a JSON object");
    ExecRequest e;
    for (const auto& [k, v] : j.items()) {
        if (k == "command") {
            if (!v.is_array() || v.empty()) invalid("command: must be a non-empty array of strings");
            for (const auto& a : v) {
                if (!a.is_string()) invalid("command: must be a non-empty array of strings");
                e.command.push_back(a.get<std::string>());
            }
        } else if (k == "env") {
            if (!v.is_array()) invalid("env: must be an array of \"KEY=VALUE\" strings");
            for (const auto& a : v) {
                if (!a.is_string() || a.get<std::string>().find('=') == std::string::npos || a.get<std::string>()[0] == '=')
                    invalid("env: must be an array of \"KEY=VALUE\" strings");
                e.env.push_back(a.get<std::string>());
            }
        } else if (k == "workingDir") {
            if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>()[0] != '/')
                invalid("workingDir: must be an absolute path");
            e.working_dir = v.get<std::string>();
        } else if (k == "user") {
            if (!v.is_string()) invalid("user: must be a string");
            e.user = v.get<std::string>();
        } else if (k == "tty") {
            if (!v.is_boolean()) invalid("tty: must be a boolean");
            e.tty = v.get<bool>();
        } else if (k == "consoleSize") {
            if (!v.is_object() || !v.contains("rows") || !v.contains("cols") || !v["rows"].is_number_unsigned() ||
                !v["cols"].is_number_unsigned() || v.size() != 2)
                invalid("consoleSize: must be {\"rows\": N, \"cols\": N}");
            e.rows = v["rows"].get<unsigned>();
            e.cols = v["cols"].get<unsigned>();
        } else if (k == "stdin") {
            if (!v.is_string()) invalid("stdin: must be a string");
            e.input = v.get<std::string>();
        } else {
            invalid(k + ": unknown field");
        }
    }
    if (e.command.empty()) invalid("command: is required");
    return e;
}

// The exec'd process: the container's own process settings with the request's changes.
std::string write_process_file(daemon::Daemon& d, const Target& t, const ExecRequest& e) {
    std::string dir = d.config().state_dir + "/pods/" + t.pod + "/containers/" + t.container;
    json config = json::parse(read_file(dir + "/config.json"));
    json p = config.at("process");
    p["args"] = e.command;
    p["terminal"] = e.tty;
    if (e.tty && e.rows && e.cols) p["consoleSize"] = {{"height", e.rows}, {"width", e.cols}};
    for (const auto& kv : e.env) {
        std::string key = kv.substr(0, kv.find('='));
        json env = json::array();
        for (const auto& x : p["env"])
            if (x.get<std::string>().substr(0, x.get<std::string>().find('=')) != key) env.push_back(x);
        env.push_back(kv);
        p["env"] = env;
    }
    if (!e.working_dir.empty()) p["cwd"] = e.working_dir;
    if (!e.user.empty()) {
        auto [uid, gid] = daemon::resolve_user(e.user, dir + "/rootfs");
        p["user"] = {{"uid", uid}, {"gid", gid}};
    }
    char name[] = "/exec-XXXXXX";
    std::string path = d.config().run_dir + "/exec";
    mkdir_all(path, 0700);
    path += name;
    int fd = ::mkstemp(path.data());
    if (fd < 0) throw_sys("mkstemp", path);
    Fd owned(fd);
    write_all(fd, p.dump(), path);
    return path;
}

// The process file of one exec, removed when the exec is over.
struct ProcessFile {
    explicit ProcessFile(std::string p) : path(std::move(p)) {}
    ProcessFile(const ProcessFile&) = delete;
    ProcessFile& operator=(const ProcessFile&) = delete;
    ~ProcessFile() {
        ::unlink(path.c_str());
        ::unlink((path + ".log").c_str());
    }
    // The error kiln-runtime reported (the process never ran), or "".
    std::string runtime_error() const {
        std::string error;
        std::istringstream in(read_file_if_exists(path + ".log").value_or(""));
        std::string line;
        while (std::getline(in, line)) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_object() && j.value("level", "") == "error") error = j.value("msg", "");
        }
        return error;
    }
    std::string path;
};

struct Spawned {
    pid_t pid = 0;
    Fd pidfd;
};

Spawned spawn_exec(daemon::Daemon& d, const Target& t, const std::string& process_file, int in, int out, int err,
                   const std::string& console_socket) {
    // The runtime's own errors go to a log of their own, apart from the process's stderr.
    std::vector<std::string> args = {d.pods().paths().runtime_binary, "--root", d.pods().paths().runtime_root(),
                                     "--log", process_file + ".log", "--log-format", "json", "exec",
                                     "--process", process_file};
    if (!console_socket.empty()) {
        args.push_back("--console-socket");
        args.push_back(console_socket);
    }
    args.push_back(d.pods().runtime_id(t.pod, t.container));
    SpawnOptions so;
    so.stdio_fds[0] = in;
    so.stdio_fds[1] = out;
    so.stdio_fds[2] = err;
    so.new_session = true;
    Spawned s;
    s.pid = spawn(args, so);
    s.pidfd.reset(sys::pidfd_open(s.pid));
    return s;
}

struct PipePair {
    Fd r, w;
};
PipePair pipe_pair() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) throw_sys("pipe2", "exec");
    return {Fd(p[0]), Fd(p[1])};
}

Response exec_plain(daemon::Daemon& d, const Request& req) {
    Target t = target(req, d);
    ExecRequest e = parse_exec(req.json());
    if (e.tty) invalid("tty: an exec with a terminal needs a WebSocket (Upgrade: websocket)");
    require_running(d, t);
    ProcessFile file(write_process_file(d, t, e));
    const std::string& process_file = file.path;
    PipePair in = pipe_pair(), out = pipe_pair(), err = pipe_pair();
    Spawned s = spawn_exec(d, t, process_file, in.r.get(), out.w.get(), err.w.get(), {});
    in.r.reset();
    out.w.reset();
    err.w.reset();
    std::string input = e.input, stdout_text, stderr_text;
    if (input.empty()) in.w.reset();
    ::fcntl(in.w.get(), F_SETFL, O_NONBLOCK);
    bool too_much = false;
    while (out.r || err.r) {
        struct pollfd p[3];
        nfds_t n = 0;
        int oi = -1, ei = -1, ii = -1;
        if (out.r) oi = static_cast<int>(n), p[n++] = {out.r.get(), POLLIN, 0};
        if (err.r) ei = static_cast<int>(n), p[n++] = {err.r.get(), POLLIN, 0};
        if (in.w) ii = static_cast<int>(n), p[n++] = {in.w.get(), POLLOUT, 0};
        if (::poll(p, n, -1) < 0) {
            if (errno == EINTR) continue;
            throw_sys("poll", "exec");
        }
        char buf[65536];
        auto drain = [&](int i, Fd& fd, std::string& into) {
            if (i < 0 || !p[i].revents) return;
            ssize_t r = ::read(fd.get(), buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) return;
                fd.reset();
                return;
            }
            if (into.size() + static_cast<std::size_t>(r) > kMaxExecOutput) too_much = true;
            else into.append(buf, static_cast<std::size_t>(r));
        };
        drain(oi, out.r, stdout_text);
        drain(ei, err.r, stderr_text);
        if (ii >= 0 && p[ii].revents) {
            ssize_t w = ::write(in.w.get(), input.data(), input.size());
            if (w > 0) input.erase(0, static_cast<std::size_t>(w));
            if (w < 0 && errno != EAGAIN && errno != EINTR) input.clear();
            if (input.empty()) in.w.reset();
        }
    }
    int code = wait_child(s.pid);
    if (too_much) invalid("exec: the output passed " + std::to_string(kMaxExecOutput) + " bytes; use the WebSocket form");
    // kiln-runtime's own failure (the process never ran) is an error, not an exit code.
    if (code != 0)
        if (std::string error = file.runtime_error(); !error.empty()) throw Error(Errc::failed_precondition, "exec: " + error);
    return Response::json({{"exitCode", code}, {"stdout", stdout_text}, {"stderr", stderr_text}});
}

// A listening unix socket for --console-socket, removed when done.
struct ConsoleSocket {
    std::string path;
    Fd fd;
    ~ConsoleSocket() {
        if (!path.empty()) ::unlink(path.c_str());
    }
};

void exec_websocket(daemon::Daemon& d, const Request& req, WebSocket& ws) {
    Target t = target(req, d);
    // The first message is the exec request: {"command":[...],"tty":true,...}.
    std::optional<WebSocket::Message> first;
    while (!(first = ws.receive(std::chrono::milliseconds(1000))) && !ws.closed()) {
    }
    if (!first) return;
    ExecRequest e = parse_exec(json::parse(first->data, nullptr, false));
    require_running(d, t);
    ProcessFile file(write_process_file(d, t, e));
    const std::string& process_file = file.path;

    Fd master, in_w, out_r, err_r;
    Spawned s;
    if (e.tty) {
        ConsoleSocket cs;
        cs.path = process_file + ".console";
        cs.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        struct sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        cs.path.copy(addr.sun_path, sizeof addr.sun_path - 1);
        if (::bind(cs.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(cs.fd.get(), 1) < 0)
            throw_sys("bind", cs.path);
        Fd devnull = open_file("/dev/null", O_RDWR | O_CLOEXEC);
        s = spawn_exec(d, t, process_file, devnull.get(), devnull.get(), devnull.get(), cs.path);
        struct pollfd p[2] = {{cs.fd.get(), POLLIN, 0}, {s.pidfd.get(), POLLIN, 0}};
        ::poll(p, 2, 30000);
        if (!(p[0].revents & POLLIN)) {
            int code = wait_child(s.pid);
            ws.send_text(json{{"error", "exec failed"}, {"exit_code", code}}.dump());
            return;
        }
        Fd conn(::accept4(cs.fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        char name[64];
        size_t got = 0;
        int m = recv_fd(conn.get(), name, sizeof name, &got);
        if (m < 0) throw_sys(-m, "receive the pty master");
        master.reset(m);
    } else {
        PipePair in = pipe_pair(), out = pipe_pair(), err = pipe_pair();
        s = spawn_exec(d, t, process_file, in.r.get(), out.w.get(), err.w.get(), {});
        in_w = std::move(in.w);
        out_r = std::move(out.r);
        err_r = std::move(err.r);
    }

    // Client -> process on this thread's helper; process -> client here.
    // The fds stay open until both threads are done: a closed one is only marked, so that no
    // thread writes to a number the other has closed and the kernel has reused.
    std::atomic<bool> done{false};
    const int master_fd = master.get();
    std::thread input([&] {
        while (!done && !ws.closed()) {
            auto msg = ws.receive(std::chrono::milliseconds(200));
            if (!msg) continue;
            if (!msg->text) {
                int fd = e.tty ? master_fd : in_w.get();
                if (fd >= 0) write_no_sigpipe(fd, msg->data.data(), msg->data.size());
                continue;
            }
            auto j = json::parse(msg->data, nullptr, false);
            if (j.contains("resize") && master_fd >= 0) {
                struct winsize wsz{};
                wsz.ws_col = static_cast<unsigned short>(j["resize"].value("cols", 80));
                wsz.ws_row = static_cast<unsigned short>(j["resize"].value("rows", 24));
                ::ioctl(master_fd, TIOCSWINSZ, &wsz);
            } else if (j.value("stdin_eof", false) && in_w) {
                in_w.reset();
            }
        }
    });
    bool master_open = static_cast<bool>(master);
    auto forward = [&](Fd& fd, char stream) {
        char buf[32768];
        buf[0] = stream;
        ssize_t r = ::read(fd.get(), buf + 1, sizeof buf - 1);
        if (r <= 0) {
            if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
            if (&fd == &master) master_open = false;
            else fd.reset();
            return;
        }
        ws.send_binary(std::string_view(buf, static_cast<std::size_t>(r) + 1));
    };
    while (!ws.closed() && (out_r || err_r || master_open)) {
        struct pollfd p[3];
        nfds_t n = 0;
        Fd* which[3];
        char streams[3];
        if (master_open) which[n] = &master, streams[n] = 1, p[n++] = {master.get(), POLLIN, 0};
        if (out_r) which[n] = &out_r, streams[n] = 1, p[n++] = {out_r.get(), POLLIN, 0};
        if (err_r) which[n] = &err_r, streams[n] = 2, p[n++] = {err_r.get(), POLLIN, 0};
        int r = ::poll(p, n, 500);
        if (r < 0 && errno != EINTR) break;
        for (nfds_t i = 0; i < n; ++i)
            if (p[i].revents) forward(*which[i], streams[i]);
        // With a terminal the master stays readable until every holder of the slave is gone;
        // the process's exit is the end.
        if (master_open && wait_pidfd_exit(s.pidfd.get(), 0)) {
            while (master_open) {
                struct pollfd q{master.get(), POLLIN, 0};
                if (::poll(&q, 1, 50) <= 0) break;
                forward(master, 1);
            }
            break;
        }
    }
    int code = wait_child(s.pid);
    done = true;
    input.join();
    json last{{"exit_code", code}};
    if (code != 0)
        if (std::string error = file.runtime_error(); !error.empty()) last["error"] = "exec: " + error;
    ws.send_text(last.dump());
    ws.close();
}

// --- attach -------------------------------------------------------------------------------

void attach_websocket(daemon::Daemon& d, const Request& req, WebSocket& ws) {
    Target t = target(req, d);
    require_running(d, t);
    bool want_stdin = req.query_flag("stdin", false);
    bool replay = req.query_flag("logs", false);
    Fd sock = connect_unix(d.pods().monitor_socket(t.pod, t.container));
    monitor::write_frame(sock.get(), monitor::FrameKind::control,
                         json{{"op", "attach"}, {"stdin", want_stdin}, {"logs", replay}}.dump());
    std::atomic<bool> done{false};
    std::thread input([&] {
        while (!done && !ws.closed()) {
            auto msg = ws.receive(std::chrono::milliseconds(200));
            if (!msg) continue;
            try {
                if (!msg->text) {
                    monitor::write_frame(sock.get(), monitor::FrameKind::stdin_data, msg->data);
                    continue;
                }
                auto j = json::parse(msg->data, nullptr, false);
                if (j.contains("resize"))
                    monitor::write_frame(sock.get(), monitor::FrameKind::control,
                                         json{{"op", "resize"}, {"cols", j["resize"].value("cols", 80)},
                                              {"rows", j["resize"].value("rows", 24)}}.dump());
                else if (j.value("stdin_eof", false))
                    monitor::write_frame(sock.get(), monitor::FrameKind::stdin_data, "");
            } catch (const Error&) {
                return;
            }
        }
    });
    monitor::FrameReader reader;
    char buf[65536];
    while (!ws.closed()) {
        struct pollfd p{sock.get(), POLLIN, 0};
        int r = ::poll(&p, 1, 500);
        if (r == 0) continue;
        ssize_t n = ::read(sock.get(), buf, sizeof buf);
        if (n <= 0) break;
        reader.feed(buf, static_cast<std::size_t>(n));
        bool ended = false;
        while (auto f = reader.next()) {
            if (f->kind == monitor::FrameKind::exit) {
                auto j = json::parse(f->payload, nullptr, false);
                ws.send_text(json{{"exit_code", j.value("exit_code", 255)}}.dump());
                ended = true;
            } else if (f->kind == monitor::FrameKind::stdout_data || f->kind == monitor::FrameKind::stderr_data) {
                std::string data(1, f->kind == monitor::FrameKind::stdout_data ? 1 : 2);
                data += f->payload;
                ws.send_binary(data);
            }
        }
        if (ended) break;
    }
    done = true;
    ::shutdown(sock.get(), SHUT_RDWR);
    input.join();
    ws.close();
}

}  // namespace

void add_container_routes(Router& r, daemon::Daemon& d) {
    r.add_stream("GET", "/v1/pods/{name}/containers/{container}/logs", "text/plain; charset=utf-8",
                 [&d](const Request& req, StreamWriter& out) { serve_logs(d, target(req, d), req, out); });
    r.add_slow("POST", "/v1/pods/{name}/containers/{container}/exec",
             [&d](const Request& req) { return exec_plain(d, req); });
    auto running = [&d](const Request& req) { require_running(d, target(req, d)); };
    r.add_websocket("/v1/pods/{name}/containers/{container}/exec",
                    [&d](const Request& req, WebSocket& ws) { exec_websocket(d, req, ws); }, running);
    r.add_websocket("/v1/pods/{name}/containers/{container}/attach",
                    [&d](const Request& req, WebSocket& ws) { attach_websocket(d, req, ws); }, running);
    r.add("GET", "/v1/pods/{name}/stats", [&d](const Request& req) {
        return Response::json(daemon::pod_stats(d.pods(), d.pods().get(req.param("name")), cgroups::host_layout()));
    });
}

}  // namespace kiln::api
