// kilnd under test.
#include "tests/integration/daemon/daemon_harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <thread>

extern char** environ;

namespace kiln::testing {

const std::string& busybox_layout() {
    static std::once_flag once;
    static std::string dir = std::string(KILN_BUILD_DIR) + "/test-images";
    std::call_once(once, [] {
        auto r = sh(std::string(KILN_SOURCE_DIR) + "/scripts/build-busybox-image.sh " + dir, 300);
        if (r.code != 0) ADD_FAILURE() << "build-busybox-image.sh: " << r.err;
    });
    static std::string layout = dir + "/oci";
    return layout;
}

Kilnd::Kilnd(const std::string& config_yaml, const std::string& netns) : tmp_("kilnd-it"), netns_(netns) {
    socket_ = tmp_.path() + "/kiln.sock";
    static int count = 0;
    cgroup_parent_ = "kiln-it-" + std::to_string(::getpid()) + "-" + std::to_string(++count);
    config_path_ = tmp_.path() + "/kiln.yaml";
    // As /var/lib/kiln is (0711): traversable, so that a pod in a user namespace reaches its
    // rootfs below.
    ::chmod(tmp_.path().c_str(), 0711);
    std::string text = config_yaml;
    if (text.find("defaultNetworks:") == std::string::npos) text = "defaultNetworks: []\n" + text;
    if (text.find("disabledPlugins:") == std::string::npos && netns.empty()) text = "disabledPlugins: [cni, metrics, gateway]\n" + text;
    std::ofstream(config_path_) << text;
    start();
}

Kilnd::~Kilnd() {
    if (pid_) {
        try {
            // Plugins' pods last: the others' networks are detached through them.
            auto pods = client_->call("GET", "/v1/pods");
            for (bool system : {false, true})
                for (const auto& p : pods)
                    if (p.value("system", false) == system)
                        client_->request("DELETE", "/v1/pods/" + p.value("name", "") + "?force=true");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "deleting pods at the end: " << e.what();
        }
        stop();
    }
    expect_nothing_left(tmp_.path(), cgroup_parent_);
}

void Kilnd::start() {
    std::vector<std::string> args;
    // nsenter --net: setns, then exec; kilnd keeps the pid and the mount namespace (ip netns exec
    // would remount /sys, hiding the cgroup hierarchies).
    if (!netns_.empty()) args = {"/usr/bin/nsenter", "--net=/run/netns/" + netns_};
    args.insert(args.end(), {std::string(KILND_BINARY), "--config", config_path_, "--socket", socket_,
                                     "--state-dir", tmp_.path() + "/state", "--run-dir", tmp_.path() + "/run",
                                     "--cgroup-parent", cgroup_parent_, "--log-level", "debug"});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = tmp_.path() + "/kilnd.log";
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ASSERT_EQ(::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    client_ = std::make_unique<api::Client>(socket_);
    client_->set_timeout(std::chrono::seconds(120));
    for (int i = 0; i < 300; ++i) {
        try {
            if (client_->request("GET", "/v1/health").status == 200) return;
        } catch (const std::exception&) {
        }
        int st;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = 0;
            std::ifstream in(log);
            std::string text((std::istreambuf_iterator<char>(in)), {});
            FAIL() << "kilnd exited at start: " << text;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL() << "kilnd did not answer on " << socket_;
}

void Kilnd::stop() {
    if (!pid_) return;
    ::kill(pid_, SIGTERM);
    int st;
    ::waitpid(pid_, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "kilnd's exit status " << st;
    pid_ = 0;
    client_ = std::make_unique<api::Client>(socket_);
}

void Kilnd::crash() {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
    pid_ = 0;
    client_ = std::make_unique<api::Client>(socket_);
}

void Kilnd::import_busybox(const std::string& tag) {
    client_->call("POST", "/v1/images/import", nlohmann::json{{"path", busybox_layout()}, {"tag", tag}});
}

Result Kilnd::cli(const std::vector<std::string>& args, const std::string& input, int timeout_s) {
    std::vector<std::string> argv = {KILN_CLI_BINARY, "-H", "unix://" + socket_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, input, timeout_s);
}

nlohmann::json Kilnd::wait_pod(const std::string& name, const std::function<bool(const nlohmann::json&)>& pred,
                               int timeout_s) {
    nlohmann::json last;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
        auto r = client_->request("GET", "/v1/pods/" + name);
        if (r.status == 200) {
            last = r.json();
            if (pred(last)) return last;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "pod " << name << " never reached the expected state: " << last.dump();
    return last;
}

std::string Kilnd::logs(const std::string& pod, const std::string& container) {
    auto r = client_->request("GET", "/v1/pods/" + pod + "/containers/" + container + "/logs");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
}

WebSocketSession read_session(api::WebSocketClient& ws) {
    WebSocketSession s;
    while (!ws.closed()) {
        auto m = ws.receive(std::chrono::seconds(20));
        if (!m) break;
        if (m->text) {
            auto j = nlohmann::json::parse(m->data);
            if (j.contains("exit_code")) {
                s.exit_code = j["exit_code"];
                break;
            }
        } else if (!m->data.empty()) {
            (m->data[0] == 2 ? s.err : s.out) += m->data.substr(1);
        }
    }
    return s;
}

std::string url_escape(const std::string& text) { return api::percent_encode(text); }

nlohmann::json simple_pod(const std::string& name, const std::vector<std::string>& args) {
    return {{"name", name},
            {"networks", {"none"}},
            {"containers", {{{"name", "main"}, {"image", "busybox"}, {"command", args}}}}};
}

void expect_nothing_left(const std::string& dir, const std::string& cgroup_parent) {
    auto mounts = sh("grep -F ' " + dir + "' /proc/self/mountinfo || true");
    EXPECT_EQ(mounts.out, "") << "mounts left under " << dir;
    auto cgroups = sh("ls -d /sys/fs/cgroup/*/" + cgroup_parent + " /sys/fs/cgroup/" + cgroup_parent + " 2>/dev/null || true");
    EXPECT_EQ(cgroups.out, "") << "cgroups left";
    // Live ones: a zombie holds nothing but its pid, and is its parent's (or init's) to reap.
    auto procs = sh("for f in $(grep -l -F '/" + cgroup_parent + "/' /proc/[0-9]*/cgroup 2>/dev/null); do "
                    "d=${f%/cgroup}; [ \"$(awk '{print $3}' $d/stat 2>/dev/null)\" = Z ] || echo $f; done");
    EXPECT_EQ(procs.out, "") << "processes left in " << cgroup_parent;
    // The bracket keeps pgrep from matching the shell that runs it.
    auto monitors = sh("pgrep -f -- 'kiln-monito[r] .*--runtime-root " + dir + "' || true");
    EXPECT_EQ(monitors.out, "") << "monitors left";
}

}  // namespace kiln::testing
