// Terminals: the pty master over --console-socket (SCM_RIGHTS), /dev/console, consoleSize, and
// `run` holding the pty itself when it stays attached.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "core/sys/socket.hpp"
#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

// Listens on a unix socket and takes one fd from the first connection.
class ConsoleSocket {
public:
    explicit ConsoleSocket(const std::string& path) : path_(path) {
        srv_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un addr = {};
        addr.sun_family = AF_UNIX;
        strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        bind(srv_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        listen(srv_, 1);
        thread_ = std::thread([this] {
            int c = accept4(srv_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) return;
            char name[128];
            size_t got = 0;
            master_ = recv_fd(c, name, sizeof name - 1, &got);
            close(c);
        });
    }
    ~ConsoleSocket() {
        shutdown(srv_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        close(srv_);
        if (master_ >= 0) close(master_);
    }
    int master() {
        if (thread_.joinable()) thread_.join();
        return master_;
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    int srv_ = -1;
    int master_ = -1;
    std::thread thread_;
};

std::string read_all(int fd, int ms) {
    std::string out;
    char buf[4096];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) <= 0) break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

TEST(Terminal, MasterArrivesOverTheConsoleSocket) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    ConsoleSocket console(t.path() + "/console.sock");
    Bundle b({"sh", "-c", "tty; stty size; readlink /proc/self/fd/0; ls -l /dev/console | cut -c1"});
    b.config["process"]["terminal"] = true;
    b.config["process"]["consoleSize"] = {{"height", 33}, {"width", 101}};
    b.save();
    std::string id = unique_id();
    Result c = k({"create", "--console-socket", console.path(), "--bundle", b.dir(), id});
    ASSERT_EQ(c.code, 0) << c.err;
    int master = console.master();
    ASSERT_GE(master, 0);
    ASSERT_EQ(k({"start", id}).code, 0);
    std::string out = read_all(master, 2000);
    EXPECT_NE(out.find("/dev/pts/0"), std::string::npos) << out;
    EXPECT_NE(out.find("33 101"), std::string::npos) << out;
    EXPECT_NE(out.find("c"), std::string::npos) << "/dev/console is a character device: " << out;
    for (int i = 0; i < 200 && k.state(id)["status"] != "stopped"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(k({"delete", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Terminal, ConsoleLinkInTheRootfsIsReplacedNotFollowed) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    ConsoleSocket console(t.path() + "/console.sock");
    Bundle b({"sh", "-c", "ls -l /dev/console | cut -c1; cat /etc/target"}, true);
    // The rootfs's own /dev (no tmpfs over it), where /dev/console links to a file.
    auto& mounts = b.config["mounts"];
    for (size_t i = 0; i < mounts.size(); ++i)
        if (mounts[i]["destination"] == "/dev") {
            mounts.erase(i);
            break;
        }
    b.config["linux"]["maskedPaths"] = nlohmann::json::array();
    b.config["process"]["terminal"] = true;
    b.save();
    ASSERT_EQ(sh("mkdir -p " + b.rootfs() + "/dev && echo untouched > " + b.rootfs() + "/etc/target && ln -sf ../etc/target " +
                 b.rootfs() + "/dev/console")
                  .code,
              0);
    std::string id = unique_id();
    Result c = k({"create", "--console-socket", console.path(), "--bundle", b.dir(), id});
    ASSERT_EQ(c.code, 0) << c.err;
    int master = console.master();
    ASSERT_GE(master, 0);
    ASSERT_EQ(k({"start", id}).code, 0);
    std::string out = read_all(master, 2000);
    EXPECT_NE(out.find("c\r\nuntouched"), std::string::npos) << out;
    for (int i = 0; i < 200 && k.state(id)["status"] != "stopped"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(k({"delete", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Terminal, DetachedTerminalNeedsAConsoleSocket) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    b.config["process"]["terminal"] = true;
    b.save();
    std::string id = unique_id();
    Result r = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("--console-socket"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Terminal, RunProxiesThePtyWhenAttached) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "test -t 0 && test -t 1 && echo is-a-tty; read line; echo got:$line"});
    b.config["process"]["terminal"] = true;
    b.save();
    std::string id = unique_id();
    Result r = k({"run", "--bundle", b.dir(), id}, "hello\n");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("is-a-tty"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("got:hello"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
