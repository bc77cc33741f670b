// Guards against the known escape classes: what enters a container runs from a sealed memfd
// (CVE-2019-5736), none of its fds reach the container and the working directory must be inside
// it (CVE-2024-21626), mount targets and masked paths cannot lead out of the rootfs.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {
namespace fs = std::filesystem;

TEST(Escape, InitRunsFromASealedMemfd) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    std::string id = unique_id();
    ASSERT_EQ(k({"create", "--bundle", b.dir(), id}).code, 0);
    int pid = k.state(id)["pid"];
    // Before start, init is kiln's: its executable must be the sealed memfd, not a host file.
    std::string exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe").string();
    EXPECT_EQ(exe.rfind("/memfd:kiln-init", 0), 0u) << exe;
    int fd = open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    int seals = fcntl(fd, F_GET_SEALS);
    close(fd);
    EXPECT_TRUE(seals & F_SEAL_WRITE) << "the copy is sealed against writes";
    EXPECT_TRUE(seals & F_SEAL_SEAL);
    // Writing to it through /proc/<pid>/exe fails.
    int w = open(("/proc/" + std::to_string(pid) + "/exe").c_str(), O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
        EXPECT_LT(write(w, "x", 1), 0);
        close(w);
    }
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Escape, WhereExecutableMemfdsAreRefusedInitIsAnUnwritableUnlinkedCopy) {
    KILN_REQUIRE_ROOT();
    if (!fs::exists("/proc/sys/vm/memfd_noexec")) GTEST_SKIP() << "kernel without vm.memfd_noexec";
    Kiln k;
    TempDir t;
    // vm.memfd_noexec is per pid namespace: 2 in a new one, the runtime inside it.
    Bundle b({"sleep", "1000"}, true);
    Bundle userns({"true"}, true);
    userns.config["linux"]["namespaces"].push_back({{"type", "user"}});
    userns.config["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    userns.config["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 100000}, {"size", 65536}}};
    userns.save();
    ASSERT_EQ(sh("chown -R 100000:100000 " + userns.rootfs()).code, 0);
    std::string id = unique_id(), id2 = unique_id();
    std::string rt = runtime_binary() + " --root " + k.root();
    std::string script = "echo 2 > /proc/sys/vm/memfd_noexec && " + rt + " run --bundle " + userns.dir() + " " + id2 + " && " +
                         rt + " create --bundle " + b.dir() + " " + id + " && pid=$(" + rt + " state " + id +
                         " | sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p') && readlink /proc/$pid/exe && "
                         "{ echo x > /proc/$pid/exe && echo wrote || echo refused; } && " + rt + " delete --force " + id;
    Result r = run({"unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script});
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    // An O_TMPFILE next to the runtime: no name on the host, and not writable while it runs.
    std::string dir = fs::path(runtime_binary()).parent_path().string();
    EXPECT_EQ(r.out.rfind(dir + "/#", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("(deleted)\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
    expect_no_leftovers(k, id);
    expect_no_leftovers(k, id2);
}

TEST(Escape, ExecNeverShowsTheHostBinaryInsideTheContainer) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // The container watches every process that appears in its pid namespace and records what
    // executable it runs, while the runtime execs into it again and again.
    Bundle b({"sh", "-c",
              "while :; do for e in /proc/[0-9]*/exe; do readlink $e; done; done 2>/dev/null | "
              "grep -v -e busybox -e memfd:kiln-init > /tmp/seen"},
             true);
    std::string id = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", b.dir(), id}).code, 0);
    for (int i = 0; i < 40; ++i) ASSERT_EQ(k({"exec", id, "true"}).code, 0);
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    std::ifstream seen(b.rootfs() + "/tmp/seen");
    std::string line, all;
    while (std::getline(seen, line)) all += line + "\n";
    EXPECT_EQ(all, "") << "executables seen in the container besides its own and kiln-init";
    expect_no_leftovers(k, id);
}

TEST(Escape, NoRuntimeFdReachesTheContainer) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // The shell's fds, listed by ls from outside the shell so that the listing's own fd is not one.
    Bundle b({"sh", "-c", "ls /proc/$$/fd; true"});  // "; true": sh must not exec ls itself
    std::string id = unique_id();
    // Open fds the caller leaked into the runtime must not pass through either.
    Result r = run({"bash", "-c", "exec 7</etc/hostname 8<" + b.dir() + "; " + runtime_binary() + " --root " + k.root() +
                                      " run --bundle " + b.dir() + " " + id});
    ASSERT_EQ(r.code, 0) << r.err;
    std::istringstream in(r.out);
    std::string fd;
    std::vector<std::string> fds;
    while (in >> fd) fds.push_back(fd);
    EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2"})) << r.out;
    expect_no_leftovers(k, id);
}

TEST(Escape, CwdThroughALeakedFdIsRefused) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // The CVE-2024-21626 shape: cwd set to /proc/self/fd/N where N was a runtime fd.
    for (int n = 3; n < 12; ++n) {
        Bundle b({"sh", "-c", "pwd; ls .."});
        b.config["process"]["cwd"] = "/proc/self/fd/" + std::to_string(n);
        b.save();
        std::string id = unique_id();
        Result r = k({"run", "--bundle", b.dir(), id});
        EXPECT_NE(r.code, 0) << "cwd /proc/self/fd/" << n << " was accepted: " << r.out;
        EXPECT_NE(r.err.find("process.cwd"), std::string::npos) << r.err;
        expect_no_leftovers(k, id);
    }
}

TEST(Escape, MaskedPathSymlinkStaysInside) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir outside;
    std::ofstream(outside.path() + "/secret") << "host-data";
    Bundle b({"sh", "-c", "cat /escape/secret 2>&1; true"}, true);
    fs::create_directory_symlink(outside.path(), b.rootfs() + "/escape");
    b.config["linux"]["maskedPaths"] = {"/escape"};
    b.config["linux"]["readonlyPaths"] = {"/escape"};
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    ASSERT_EQ(r.code, 0) << r.err;
    // After pivot_root the link resolves inside the container, where there is nothing.
    EXPECT_EQ(r.out.find("host-data"), std::string::npos) << r.out;
    std::ifstream secret(outside.path() + "/secret");
    std::string content;
    secret >> content;
    EXPECT_EQ(content, "host-data") << "the host file is untouched";
    expect_no_leftovers(k, id);
}

}  // namespace
}  // namespace kiln::testing
