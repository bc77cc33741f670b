// Integration test helpers: processes, temp dirs, busybox bundles, leftover checks.
#include "tests/integration/harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace kiln::testing {
namespace fs = std::filesystem;

bool is_root() { return ::geteuid() == 0; }

std::string runtime_binary() {
    const char* env = getenv("KILN_RUNTIME");
    return env ? env : KILN_RUNTIME_BINARY;
}

std::string trim(const std::string& text) {
    std::string s = text;
    auto nl = s.find('\n');
    if (nl != std::string::npos) s.resize(nl);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
    return s;
}

Result run(const std::vector<std::string>& argv, const std::string& input, int timeout_s) {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    Result r;
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        close(err[0]);
        r.err = "spawn " + argv[0] + ": " + strerror(rc);
        return r;
    }
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    size_t written = 0;
    if (input.empty()) {
        close(in[1]);
        in[1] = -1;
    }
    // Wait for the process, not for end-of-file: a container it leaves running (create, run -d)
    // holds our pipes open.
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    auto drain = [&](int fd, std::string& into) {
        char buf[65536];
        ssize_t k = -1;
        while (fd >= 0 && (k = read(fd, buf, sizeof buf)) > 0) into.append(buf, static_cast<size_t>(k));
        return k == 0;  // end of file
    };
    bool exited = false;
    while (!exited) {
        struct pollfd p[4] = {{pidfd, POLLIN, 0}, {out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
        if (left <= 0) {
            kill(pid, SIGKILL);
            r.err += "\n[timed out]";
            break;
        }
        int n = poll(p, in[1] >= 0 ? 4 : 3, left);
        if (n < 0 && errno == EINTR) continue;
        if (p[0].revents) exited = true;
        if (out[0] >= 0 && p[1].revents && drain(out[0], r.out)) {
            close(out[0]);
            out[0] = -1;
        }
        if (err[0] >= 0 && p[2].revents && drain(err[0], r.err)) {
            close(err[0]);
            err[0] = -1;
        }
        if (in[1] >= 0 && (p[3].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t k = write(in[1], input.data() + written, input.size() - written);
            if (k > 0) written += static_cast<size_t>(k);
            if (k < 0 || written == input.size()) {
                close(in[1]);
                in[1] = -1;
            }
        }
    }
    drain(out[0], r.out);
    drain(err[0], r.err);
    close(pidfd);
    if (in[1] >= 0) close(in[1]);
    if (out[0] >= 0) close(out[0]);
    if (err[0] >= 0) close(err[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

Result sh(const std::string& command, int timeout_s) { return run({"/bin/sh", "-c", command}, "", timeout_s); }

TempDir::TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back(0);
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp " + tmpl);
    path_ = buf.data();
}

TempDir::~TempDir() {
    // Unmount anything a failed test left mounted inside, deepest first, before removing.
    std::ifstream mi("/proc/self/mountinfo");
    std::vector<std::string> mounts;
    std::string line;
    while (std::getline(mi, line)) {
        std::istringstream f(line);
        std::string a, b, c, d, mp;
        f >> a >> b >> c >> d >> mp;
        if (mp.rfind(path_ + "/", 0) == 0) mounts.push_back(mp);
    }
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(path_, ec);
}

static void populate_rootfs(const std::string& root) {
    fs::create_directories(root + "/bin");
    for (const char* d : {"proc", "sys", "dev", "etc", "tmp", "root", "home/user", "var", "run"})
        fs::create_directories(root + "/" + d);
    fs::permissions(root + "/tmp", fs::perms(01777));
    fs::copy_file("/bin/busybox", root + "/bin/busybox");
    Result list = run({"/bin/busybox", "--list"});
    std::istringstream names(list.out);
    std::string name;
    while (std::getline(names, name))
        if (!name.empty() && name != "busybox") fs::create_symlink("busybox", root + "/bin/" + name);
    std::ofstream(root + "/etc/passwd") << "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
                                           "nobody:x:65534:65534:nobody:/:/bin/false\n";
    std::ofstream(root + "/etc/group") << "root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n";
}

const std::string& shared_rootfs() {
    static TempDir dir("kiln-it-rootfs");  // removed when the test binary exits
    static std::string root = [] {
        std::string r = dir.path() + "/rootfs";
        populate_rootfs(r);
        return r;
    }();
    return root;
}

std::string make_rootfs(const std::string& dir) {
    std::string r = dir + "/rootfs";
    populate_rootfs(r);
    return r;
}

static nlohmann::json default_config() {
    static nlohmann::json config = [] {
        TempDir t("kiln-it-spec");
        Result r = run({runtime_binary(), "spec", "--bundle", t.path()});
        if (r.code != 0) throw std::runtime_error("kiln-runtime spec failed: " + r.err);
        std::ifstream in(t.path() + "/config.json");
        return nlohmann::json::parse(in);
    }();
    return config;
}

Bundle::Bundle(std::vector<std::string> args, bool private_rootfs) : tmp_("kiln-it-bundle") {
    // Reachable by the ids a user namespace maps root to.
    chmod(tmp_.path().c_str(), 0755);
    rootfs_ = private_rootfs ? make_rootfs(tmp_.path()) : shared_rootfs();
    config = default_config();
    config["process"]["terminal"] = false;
    config["process"]["args"] = args;
    config["root"]["path"] = rootfs_;
    config["root"]["readonly"] = !private_rootfs;
    save();
}

void Bundle::save() const { std::ofstream(tmp_.path() + "/config.json") << config.dump(2); }

Kiln::Kiln() : root_("kiln-it-root") {}

Result Kiln::operator()(const std::vector<std::string>& args, const std::string& input, int timeout_s) const {
    std::vector<std::string> argv = {runtime_binary(), "--root", root_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return kiln::testing::run(argv, input, timeout_s);
}

Result Kiln::run(const Bundle& b, const std::string& id) const { return (*this)({"run", "--bundle", b.dir(), id}); }

nlohmann::json Kiln::state(const std::string& id) const {
    Result r = (*this)({"state", id});
    EXPECT_EQ(r.code, 0) << r.err;
    if (r.code != 0) return {};
    return nlohmann::json::parse(r.out);
}

std::string unique_id() {
    static std::atomic<int> n{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info ? info->name() : "test";
    for (auto& c : name)
        if (!isalnum(static_cast<unsigned char>(c))) c = '-';
    return "kt-" + name + "-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

void remove_namespace(nlohmann::json& config, const std::string& type) {
    auto& ns = config["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i)
        if (ns[i]["type"] == type) {
            ns.erase(i);
            return;
        }
}

void set_namespace(nlohmann::json& config, const std::string& type, const std::string& path) {
    remove_namespace(config, type);
    nlohmann::json entry = {{"type", type}};
    if (!path.empty()) entry["path"] = path;
    config["linux"]["namespaces"].push_back(entry);
}

void expect_no_leftovers(const Kiln& k, const std::string& id) {
    EXPECT_FALSE(fs::exists(k.root() + "/" + id)) << "state directory of " << id << " left behind";
    // Any directory named after the container in any hierarchy.
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup")) {
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(h.path(), fs::directory_options::skip_permission_denied, ec);
             it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (ec) break;
            if (it->is_directory(ec) && it->path().filename() == id) ADD_FAILURE() << "cgroup left behind: " << it->path();
            if (it.depth() > 4) it.disable_recursion_pending();
        }
    }
}

std::vector<std::string> open_fds(pid_t pid) {
    std::vector<std::pair<int, std::string>> fds;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    for (const auto& e : std::filesystem::directory_iterator(dir))
        fds.emplace_back(std::stoi(e.path().filename().string()), std::filesystem::read_symlink(e.path()).string());
    std::sort(fds.begin(), fds.end());
    std::vector<std::string> out;
    for (const auto& [fd, target] : fds) out.push_back(std::to_string(fd) + " " + target);
    return out;
}

}  // namespace kiln::testing
