// Seccomp in a real container: a denied call with its errno, a kill, argument conditions, and a
// NOTIFY listener that receives the fd and the container's state.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "core/sys/socket.hpp"
#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

TEST(Seccomp, DeniedCallGetsItsErrno) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?; echo still-running"});
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
        {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}}}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << "errnoRet 1 is EPERM: " << r.out;
    EXPECT_NE(r.out.find("still-running"), std::string::npos);
    expect_no_leftovers(k, id);
}

TEST(Seccomp, KillProcessEndsTheContainerWithSigsys) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"uname"});
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", {{{"names", {"uname"}}, {"action", "SCMP_ACT_KILL_PROCESS"}}}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(r.code, 128 + SIGSYS) << r.err;
    expect_no_leftovers(k, id);
}

TEST(Seccomp, ArgumentConditions) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // personality(0xffffffff) queries; deny only personality(PER_LINUX32 == 8).
    Bundle b({"sh", "-c", "uname -m; linux32 uname -m 2>&1; echo rc=$?"});
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls",
         {{{"names", {"personality"}},
           {"action", "SCMP_ACT_ERRNO"},
           {"errnoRet", 13},
           {"args", {{{"index", 0}, {"value", 8}, {"op", "SCMP_CMP_EQ"}}}}}}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("x86_64\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("Permission denied"), std::string::npos) << "errno 13 for personality(8): " << r.out;
    expect_no_leftovers(k, id);
}

TEST(Seccomp, WithoutNoNewPrivileges) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "mkdir /tmp/y 2>&1; grep Seccomp: /proc/self/status"});
    b.config["process"]["noNewPrivileges"] = false;
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}},
    };
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Operation not permitted"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Seccomp:\t2"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Seccomp, NotifyListenerGetsTheFdAndTheState) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    std::string path = t.path() + "/listener.sock";
    int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(srv, 1), 0);
    std::string message;
    int notify_fd = -1;
    std::thread agent([&] {
        int c = accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) return;
        char buf[65536];
        size_t got = 0;
        notify_fd = recv_fd(c, buf, sizeof buf, &got);
        message.assign(buf, got);
        close(c);
    });

    Bundle b({"sh", "-c", "mkdir /tmp/z 2>&1; echo done"});
    b.config["linux"]["seccomp"] = {
        {"defaultAction", "SCMP_ACT_ALLOW"},
        {"listenerPath", path},
        {"listenerMetadata", "meta-data"},
        {"syscalls", {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}}},
    };
    b.save();
    std::string id = unique_id();
    Result c = k({"create", "--bundle", b.dir(), id});
    agent.join();
    close(srv);
    ASSERT_EQ(c.code, 0) << c.err;
    ASSERT_GE(notify_fd, 0) << "the listener received no fd";
    auto j = nlohmann::json::parse(message);
    EXPECT_EQ(j["fds"][0], "seccompFd");
    EXPECT_EQ(j["metadata"], "meta-data");
    EXPECT_EQ(j["state"]["id"], id);
    EXPECT_EQ(j["state"]["status"], "creating");
    EXPECT_GT(j["pid"].get<int>(), 0);
    // Close the listener: the kernel then fails the notified calls with ENOSYS.
    close(notify_fd);
    ASSERT_EQ(k({"start", id}).code, 0);
    for (int i = 0; i < 200 && k.state(id)["status"] != "stopped"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(k({"delete", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Seccomp, BadProfileNamesTheField) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    b.config["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ALLOW"},
                                    {"syscalls", {{{"names", {"read"}}, {"action", "SCMP_ACT_SOMETIMES"}}}}};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("linux.seccomp.syscalls[0].action"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
