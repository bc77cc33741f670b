// What the integration tests share: running kiln-runtime against its own state root, busybox
// bundles with an editable config, and the check that a container left nothing behind.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kiln::testing {

struct Result {
    int code = -1;
    std::string out;
    std::string err;
};

// Runs argv (argv[0] looked up in PATH), feeding `input`, killing it after `timeout_s`.
Result run(const std::vector<std::string>& argv, const std::string& input = "", int timeout_s = 30);
// Runs a shell command line.
Result sh(const std::string& command, int timeout_s = 30);

std::string runtime_binary();
// A fresh directory under /tmp, removed (with anything mounted inside unmounted) at the end.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "kiln-it");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A rootfs holding busybox-static and its applets, built once per test run and shared
// read-only by the bundles that do not ask for their own.
const std::string& shared_rootfs();
// A private copy of that rootfs under `dir`.
std::string make_rootfs(const std::string& dir);

class Bundle {
public:
    // A bundle whose config runs `args`, with the namespaces, mounts, masked and read-only paths
    // of `kiln-runtime spec`, no terminal, and the shared rootfs (or a private one).
    explicit Bundle(std::vector<std::string> args = {"true"}, bool private_rootfs = false);
    const std::string& dir() const { return tmp_.path(); }
    const std::string& rootfs() const { return rootfs_; }
    nlohmann::json config;
    void save() const;

private:
    TempDir tmp_;
    std::string rootfs_;
};

// kiln-runtime with its own --root, so tests never see other containers.
class Kiln {
public:
    Kiln();
    Result operator()(const std::vector<std::string>& args, const std::string& input = "", int timeout_s = 30) const;
    // run --bundle B ID: create, start, wait, delete.
    Result run(const Bundle& b, const std::string& id) const;
    const std::string& root() const { return root_.path(); }
    // The container's state JSON (throws a test failure when state fails).
    nlohmann::json state(const std::string& id) const;

private:
    TempDir root_;
};

// "kt-<test name>-<n>": unique within the run, and recognizable in cgroup trees.
std::string unique_id();

// Nothing of container `id` remains: no state directory, no cgroup directory in any hierarchy,
// no process whose cgroup names it.
void expect_no_leftovers(const Kiln& k, const std::string& id);

// linux.namespaces of a config: an entry removed, or set (new, or joined when `path` is given).
void remove_namespace(nlohmann::json& config, const std::string& type);
void set_namespace(nlohmann::json& config, const std::string& type, const std::string& path = "");

// The fds process `pid` has open, in order, each as "<fd> <what it points to>".
std::vector<std::string> open_fds(pid_t pid);

// The first line of `text` without its newline, trimmed.
std::string trim(const std::string& text);

bool is_root();

#define KILN_REQUIRE_ROOT() \
    if (!::kiln::testing::is_root()) GTEST_SKIP() << "needs root"

}  // namespace kiln::testing
