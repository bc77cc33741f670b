// What kilnd's integration tests share: a kilnd of their own (temp socket, state dir, run dir and
// cgroup parent), a client to it, the busybox image imported, and the check that a deleted pod
// left nothing behind.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/client/client.hpp"
#include "tests/integration/harness.hpp"

namespace kiln::testing {

// The busybox OCI layout built by scripts/build-busybox-image.sh, once per run.
const std::string& busybox_layout();

class Kilnd {
public:
    // Starts kilnd with every path under a fresh temp dir; `config_yaml` is written as its config.
    // Unless it says otherwise, pods join no network (defaultNetworks: []) and the cni, metrics and
    // gateway plugins are disabled (with `netns`, only the config decides): tests that network or listen
    // run kilnd in a network namespace of their own (`netns`, a name under /run/netns, see
    // TestNetns), never in the machine's.
    explicit Kilnd(const std::string& config_yaml = "", const std::string& netns = "");
    ~Kilnd();  // deletes every pod, stops kilnd, checks nothing is left

    api::Client& client() { return *client_; }
    const std::string& socket() const { return socket_; }
    const std::string& dir() const { return tmp_.path(); }
    const std::string& cgroup_parent() const { return cgroup_parent_; }
    pid_t pid() const { return pid_; }

    void start();
    // SIGTERM and wait.
    void stop();
    // SIGKILL, as a crash: monitors and containers keep running.
    void crash();
    // Imports busybox as `tag`.
    void import_busybox(const std::string& tag = "busybox");
    // kiln (the CLI) against this daemon.
    Result cli(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 60);
    // Polls GET /v1/pods/NAME until `pred` holds (at most `timeout_s`); returns the last record.
    nlohmann::json wait_pod(const std::string& name, const std::function<bool(const nlohmann::json&)>& pred,
                            int timeout_s = 30);
    // The container's log text (non-follow).
    std::string logs(const std::string& pod, const std::string& container);

private:
    TempDir tmp_;
    std::string socket_, cgroup_parent_, config_path_, netns_;
    pid_t pid_ = 0;
    std::unique_ptr<api::Client> client_;
};

// A network namespace of the test's own, lo up; deleted at the end.
class TestNetns {
public:
    TestNetns() {
        static int count = 0;
        name_ = "kiln-nt-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
        auto r = sh("ip netns add " + name_ + " && ip -n " + name_ + " link set lo up");
        EXPECT_EQ(r.code, 0) << r.err;
    }
    ~TestNetns() { sh("ip netns del " + name_); }
    const std::string& name() const { return name_; }
    // A command run in the namespace (from the host's mount namespace).
    Result in(const std::string& command, int timeout_s = 30) const {
        return sh("ip netns exec " + name_ + " " + command, timeout_s);
    }

private:
    std::string name_;
};

// What an exec or attach WebSocket delivered until its exit-code message (or 20 s of silence):
// stdout and stderr from the stream byte of each binary frame, and the code (-1 if none came).
struct WebSocketSession {
    std::string out, err;
    int exit_code = -1;
};
WebSocketSession read_session(api::WebSocketClient& ws);

// Percent-encodes one path segment (an image name in /v1/images/{ref}).
std::string url_escape(const std::string& text);

// A pod of one container running `args` from image busybox.
nlohmann::json simple_pod(const std::string& name, const std::vector<std::string>& args);

// No mount below `dir`, no cgroup `cgroup` (a path relative to the hierarchies' roots) in any
// hierarchy, no process whose cgroup names it, no monitor of `dir`.
void expect_nothing_left(const std::string& dir, const std::string& cgroup);

}  // namespace kiln::testing
