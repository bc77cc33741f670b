// kiln-cni-chain: the CNI side of an attachment, run inside the cni plugin's container, one
// process per operation whatever the length of the chain. It reads one JSON request on stdin:
//
//   {"command": "ADD" | "DEL" | "CHECK" | "GC" | "VERSION",
//    "conflist": {...},                       (not for VERSION)
//    "attachment": {"containerId", "netns", "ifname", "portMappings"},
//    "prevResult": {...},                     (DEL and CHECK: the cached result)
//    "validAttachments": [...],               (GC)
//    "type": "bridge",                        (VERSION)
//    "binDirs": ["/opt/cni/bin", ...], "timeout": 30}
//
// runs the chain as network/cni/cni.hpp does (each binary found in binDirs, given the CNI_*
// variables and its config on stdin, killed after `timeout` seconds), and prints the result (ADD:
// the last plugin's; VERSION: the plugin's answer; else {}) and exits 0, or prints a CNI error
// object {"code", "msg", "details"} and exits 1.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <iterator>

#include "network/cni/cni.hpp"

extern char** environ;

namespace {

using kiln::cni::json;

struct Setup {
    std::vector<std::string> bin_dirs;
    int timeout = 30;
    kiln::cni::Attachment attachment;
};

// Runs `path` with `env`, `input` on stdin; kills it after `timeout` seconds.
kiln::cni::RunResult run_binary(const std::string& path, const std::vector<std::string>& env, const std::string& input,
                                int timeout) {
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) || ::pipe2(out, O_CLOEXEC) || ::pipe2(err, O_CLOEXEC))
        throw kiln::cni::Error(999, "pipe: " + std::string(std::strerror(errno)));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> envp;
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    pid_t pid;
    int rc = ::posix_spawn(&pid, path.c_str(), &fa, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        throw kiln::cni::Error(999, path + ": " + std::strerror(rc));
    }
    ::fcntl(in[1], F_SETFL, O_NONBLOCK);
    kiln::cni::RunResult r;
    std::size_t written = 0;
    bool in_open = true, out_open = true, err_open = true, killed = false;
    if (input.empty()) {
        ::close(in[1]);
        in_open = false;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
    while (out_open || err_open) {
        std::vector<pollfd> fds;
        if (in_open) fds.push_back({in[1], POLLOUT, 0});
        if (out_open) fds.push_back({out[0], POLLIN, 0});
        if (err_open) fds.push_back({err[0], POLLIN, 0});
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0 && !killed) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
        if (::poll(fds.data(), fds.size(), killed ? 1000 : static_cast<int>(left)) < 0 && errno != EINTR) break;
        for (const auto& p : fds) {
            if (!p.revents) continue;
            if (p.fd == in[1]) {
                ssize_t n = ::write(in[1], input.data() + written, input.size() - written);
                if (n > 0) written += static_cast<std::size_t>(n);
                if (n < 0 && errno != EAGAIN) written = input.size();
                if (written == input.size()) {
                    ::close(in[1]);
                    in_open = false;
                }
                continue;
            }
            char buf[8192];
            ssize_t n = ::read(p.fd, buf, sizeof buf);
            if (n > 0) {
                (p.fd == out[0] ? r.out : r.err).append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(p.fd);
                (p.fd == out[0] ? out_open : err_open) = false;
            }
        }
        if (killed && std::chrono::steady_clock::now() > deadline + std::chrono::seconds(5)) break;
    }
    if (in_open) ::close(in[1]);
    if (out_open) ::close(out[0]);
    if (err_open) ::close(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.exit_code = killed ? 137 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

kiln::cni::Runner runner(const Setup& s) {
    return [&s](const std::string& command, const std::string& type, const std::string& input) {
        std::string path;
        std::string searched;
        for (const auto& dir : s.bin_dirs) {
            searched += (searched.empty() ? "" : ":") + dir;
            if (path.empty() && ::access((dir + "/" + type).c_str(), X_OK) == 0) path = dir + "/" + type;
        }
        if (path.empty()) throw kiln::cni::Error(7, "failed to find plugin \"" + type + "\" in path [" + searched + "]");
        std::vector<std::string> env = {"CNI_COMMAND=" + command, "CNI_PATH=" + searched, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
        if (command != "VERSION" && command != "GC") {
            env.push_back("CNI_CONTAINERID=" + s.attachment.container_id);
            env.push_back("CNI_NETNS=" + s.attachment.netns);
            env.push_back("CNI_IFNAME=" + s.attachment.ifname);
            env.push_back("CNI_ARGS=");
        }
        return run_binary(path, env, input, s.timeout);
    };
}

}  // namespace

int main() {
    // A binary that exits before reading its config must not take this process (and the DEL
    // that undoes a failed chain) with it.
    std::signal(SIGPIPE, SIG_IGN);
    std::string text((std::istreambuf_iterator<char>(std::cin)), {});
    try {
        json req = json::parse(text);
        Setup s;
        for (const auto& d : req.value("binDirs", json::array({"/opt/cni/bin"}))) s.bin_dirs.push_back(d);
        s.timeout = std::max(1, req.value("timeout", 30));
        if (req.contains("attachment")) {
            const json& a = req["attachment"];
            s.attachment = {a.value("containerId", ""), a.value("netns", ""), a.value("ifname", "eth0"),
                            a.value("portMappings", json::array())};
        }
        std::string command = req.value("command", "");
        auto run = runner(s);
        json out = json::object();
        const json* prev = req.contains("prevResult") && req["prevResult"].is_object() ? &req["prevResult"] : nullptr;
        if (command == "VERSION") {
            std::string type = req.value("type", "");
            out = kiln::cni::read_answer(type, "VERSION", run("VERSION", type, R"({"cniVersion":"1.0.0"})"));
        } else if (command == "ADD") {
            out = kiln::cni::add(req.at("conflist"), s.attachment, run);
        } else if (command == "DEL") {
            kiln::cni::del(req.at("conflist"), s.attachment, prev, run);
        } else if (command == "CHECK") {
            if (!prev) throw kiln::cni::Error(999, "CHECK needs prevResult");
            kiln::cni::check(req.at("conflist"), s.attachment, *prev, run);
        } else if (command == "GC") {
            kiln::cni::gc(req.at("conflist"), req.value("validAttachments", json::array()), run);
        } else {
            throw kiln::cni::Error(4, "unknown command \"" + command + "\"");
        }
        std::cout << out.dump() << "\n";
        return 0;
    } catch (const kiln::cni::Error& e) {
        std::cout << json{{"code", e.code()}, {"msg", e.msg()}, {"details", e.details()}}.dump() << "\n";
    } catch (const std::exception& e) {
        std::cout << json{{"code", 999}, {"msg", e.what()}}.dump() << "\n";
    }
    return 1;
}
