// ptp: an example network plugin in C++, built against the kiln SDK alone. Each attachment is a
// veth pair: one end in the pod's netns as `ifname`, with the next free address of the network's
// /24 and a default route through .1; the other end in kilnd's network namespace, with a route
// to the pod. Addresses are leased as files in the plugin's state dir, so concurrent attaches
// never share one. It has no container: its commands (ip, nsenter) run on the host.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <kiln/plugin.hpp>
#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using json = nlohmann::json;

// Runs argv (a program found in PATH); its stderr when it fails.
int run(const std::vector<std::string>& argv, std::string* err = nullptr) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    int rc = ::posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(pipe_fds[1]);
    std::string text;
    char buf[512];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) text.append(buf, n);
    ::close(pipe_fds[0]);
    if (rc != 0) throw std::runtime_error(argv[0] + ": cannot run it");
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (err) *err = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

void must(const std::vector<std::string>& argv) {
    std::string err;
    if (run(argv, &err) != 0) {
        std::string cmd;
        for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
        while (!err.empty() && err.back() == '\n') err.pop_back();
        throw std::runtime_error(cmd + ": " + err);
    }
}

class Ptp : public kiln::sdk::NetworkPlugin {
public:
    explicit Ptp(kiln::sdk::HostContext& host) : host_(host) {}

    void start() override {
        defaults_ = json::parse(host_.config_json());
        prefix_of(defaults_.value("subnet", ""));  // checks it
        std::filesystem::create_directories(host_.state_dir() + "/leases");
    }

    std::string attach(const std::string& request_text) override {
        json req = json::parse(request_text);
        std::string prefix = prefix_of(subnet_of(req));
        std::string netns = req.at("netns"), ifname = req.value("ifname", "eth0");
        std::string host_if = host_ifname(req);
        std::string address = lease(req, prefix);
        try {
            must({"nsenter", "--net=" + netns, "ip", "link", "add", ifname, "type", "veth", "peer", "name", host_if,
                  "netns", std::to_string(::getpid())});
            must({"ip", "addr", "add", prefix + "1/32", "dev", host_if});
            must({"ip", "link", "set", host_if, "up"});
            must({"ip", "route", "add", address + "/32", "dev", host_if});
            must({"nsenter", "--net=" + netns, "ip", "addr", "add", address + "/24", "dev", ifname});
            must({"nsenter", "--net=" + netns, "ip", "link", "set", ifname, "up"});
            must({"nsenter", "--net=" + netns, "ip", "route", "add", "default", "via", prefix + "1", "dev", ifname, "onlink"});
        } catch (...) {
            detach(request_text);
            throw;
        }
        json result = {{"interfaces", {{{"name", ifname}, {"sandbox", netns}}}},
                       {"ips", {{{"address", address + "/24"}, {"gateway", prefix + "1"}, {"interface", 0}}}},
                       {"routes", {{{"dst", "0.0.0.0/0"}, {"gw", prefix + "1"}}}},
                       {"dns", json::object()}};
        return result.dump();
    }

    // Whatever is left of an attachment goes; nothing there is not an error.
    void detach(const std::string& request_text) override {
        json req = json::parse(request_text);
        run({"ip", "link", "del", host_ifname(req)});  // takes the pod's end with it
        std::string key = req.value("pod", "") + "/" + req.value("ifname", "eth0");
        for (const auto& e : std::filesystem::directory_iterator(host_.state_dir() + "/leases")) {
            std::ifstream in(e.path());
            std::string owner;
            std::getline(in, owner);
            if (owner == key) std::filesystem::remove(e.path());
        }
    }

    void check(const std::string& request_text) override {
        json req = json::parse(request_text);
        if (run({"ip", "link", "show", host_ifname(req)}) != 0)
            throw std::runtime_error("the host end " + host_ifname(req) + " is gone");
    }

private:
    std::string subnet_of(const json& req) const {
        const json& config = req.contains("config") && req["config"].is_object() ? req["config"] : defaults_;
        return config.value("subnet", defaults_.value("subnet", ""));
    }

    // "10.99.0.0/24" -> "10.99.0."
    static std::string prefix_of(const std::string& subnet) {
        unsigned a, b, c, d, bits;
        if (std::sscanf(subnet.c_str(), "%u.%u.%u.%u/%u", &a, &b, &c, &d, &bits) != 5 || bits != 24 || a > 255 ||
            b > 255 || c > 255 || d != 0)
            throw std::runtime_error("subnet: \"" + subnet + "\" is not an IPv4 /24 such as 10.99.0.0/24");
        return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(c) + ".";
    }

    // "kp" and a hash of pod and ifname: at most 15 characters, as Linux allows.
    static std::string host_ifname(const json& req) {
        std::size_t h = std::hash<std::string>{}(req.value("pod", "") + "/" + req.value("ifname", "eth0"));
        char buf[16];
        std::snprintf(buf, sizeof buf, "kp%08zx", h & 0xffffffffu);
        return buf;
    }

    // The first free address from .2, claimed by creating its file.
    std::string lease(const json& req, const std::string& prefix) {
        for (int i = 2; i < 255; ++i) {
            std::string address = prefix + std::to_string(i);
            int fd = ::open((host_.state_dir() + "/leases/" + address).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0) continue;
            std::string owner = req.value("pod", "") + "/" + req.value("ifname", "eth0") + "\n";
            ssize_t ignored = ::write(fd, owner.data(), owner.size());
            (void)ignored;
            ::close(fd);
            return address;
        }
        throw std::runtime_error("no free address in " + prefix + "0/24");
    }

    kiln::sdk::HostContext& host_;
    json defaults_;
};

}  // namespace

KILN_PLUGIN(Ptp)
