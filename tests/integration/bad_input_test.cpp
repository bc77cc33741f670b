// Bad configs: each is refused with an error naming the field or the path, and nothing is left
// behind (no state directory, cgroup, mount or process).
#include <unistd.h>

#include <fstream>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

struct Case {
    const char* name;
    std::function<void(nlohmann::json&)> edit;
    const char* expected;
};

void expect_refused(const Case& c) {
    Kiln k;
    Bundle b({"true"});
    c.edit(b.config);
    b.save();
    std::string id = unique_id();
    Result r = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r.code, 0) << c.name;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.name << ": " << r.err;
    // One line, no stack of noise.
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.name << ": " << r.err;
    expect_no_leftovers(k, id);
    EXPECT_EQ(k({"list", "-q"}).out, "") << c.name;
}

TEST(BadInput, FieldsOfTheWrongTypeOrValue) {
    KILN_REQUIRE_ROOT();
    const Case cases[] = {
        {"version", [](auto& j) { j["ociVersion"] = "2.0.0"; }, "ociVersion: unsupported version \"2.0.0\""},
        {"version type", [](auto& j) { j["ociVersion"] = 1; }, "ociVersion: expected a string, got an integer"},
        {"args type", [](auto& j) { j["process"]["args"] = "true"; }, "process.args: expected an array, got a string"},
        {"args element", [](auto& j) { j["process"]["args"] = {"true", 5}; }, "process.args[1]: expected a string"},
        {"uid", [](auto& j) { j["process"]["user"]["uid"] = -5; }, "process.user.uid: expected an unsigned integer, got -5"},
        {"cwd", [](auto& j) { j["process"]["cwd"] = "relative"; }, "process.cwd: must be an absolute path"},
        {"mount dest", [](auto& j) { j["mounts"][0]["destination"] = 3; }, "mounts[0].destination: expected a string"},
        {"mount option", [](auto& j) { j["mounts"][0]["options"] = {""}; }, "mounts[0].options[0]: empty mount option"},
        {"mount source", [](auto& j) {
             j["mounts"].push_back({{"destination", "/x"}, {"type", "bind"}, {"source", "/no/such/dir"}, {"options", {"bind"}}});
         }, ".source: /no/such/dir: No such file or directory"},
        {"namespace", [](auto& j) { j["linux"]["namespaces"].push_back({{"type", "pid"}}); }, "duplicate namespace \"pid\""},
        {"rlimit", [](auto& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_X"}, {"hard", 1}, {"soft", 1}}}; },
         "process.rlimits[0].type: unknown rlimit"},
        {"memory type", [](auto& j) { j["linux"]["resources"]["memory"] = {{"limit", "64m"}}; },
         "linux.resources.memory.limit: expected an integer, got a string"},
        {"hook path", [](auto& j) { j["hooks"] = {{"prestart", {{{"path", "relative"}}}}}; }, "hooks.prestart[0].path"},
        {"root missing", [](auto& j) { j["root"]["path"] = "/no/such/rootfs"; }, "root.path: /no/such/rootfs: No such file"},
        {"root absent", [](auto& j) { j.erase("root"); }, "root.path: is required"},
        {"cgroup path", [](auto& j) { j["linux"]["cgroupsPath"] = "/a/../../b"; }, "linux.cgroupsPath: must not contain \"..\""},
        {"oom", [](auto& j) { j["process"]["oomScoreAdj"] = 5000; }, "process.oomScoreAdj: must be between -1000 and 1000"},
        {"seccomp action", [](auto& j) { j["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_NOPE"}}; },
         "linux.seccomp.defaultAction"},
        {"device type", [](auto& j) { j["linux"]["devices"] = {{{"type", "q"}, {"path", "/dev/q"}}}; },
         "linux.devices[0].type"},
        {"no mount ns", [](auto& j) {
             auto& ns = j["linux"]["namespaces"];
             for (size_t i = 0; i < ns.size(); ++i)
                 if (ns[i]["type"] == "mount") ns.erase(i);
         }, "needs a mount namespace"},
    };
    for (const auto& c : cases) expect_refused(c);
}

TEST(BadInput, MalformedJson) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    std::ofstream(b.dir() + "/config.json") << "{\"ociVersion\": \"1.2.0\", \"process\": ";
    std::string id = unique_id();
    Result r = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("config.json: malformed JSON"), std::string::npos) << r.err;
    expect_no_leftovers(k, id);
    std::ofstream(b.dir() + "/config.json") << "[]";
    Result r2 = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r2.err.find("expected a JSON object"), std::string::npos) << r2.err;
    unlink((b.dir() + "/config.json").c_str());
    Result r3 = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r3.err.find("config.json: No such file or directory"), std::string::npos) << r3.err;
    expect_no_leftovers(k, id);
}

TEST(BadInput, FailureInsideInitLeavesNothing) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // Fails late, inside init after the cgroup and mounts exist: an unknown executable.
    Bundle b({"/bin/definitely-missing"});
    b.config["linux"]["resources"] = {{"pids", {{"limit", 50}}}};
    b.save();
    std::string id = unique_id();
    Result r = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(r.code, 0);
    expect_no_leftovers(k, id);
    // Only this test's processes count: they name its state root (pgrep never matches itself).
    Result ps = run({"pgrep", "-f", "--", "--root " + k.root()});
    EXPECT_EQ(trim(ps.out), "") << "no runtime or init process remains";
}

TEST(BadInput, CliErrors) {
    Kiln k;
    Result no_id = k({"create"});
    EXPECT_NE(no_id.code, 0);
    EXPECT_NE(no_id.err.find("id is required"), std::string::npos) << no_id.err;
    Result unknown_verb = k({"frobnicate"});
    EXPECT_NE(unknown_verb.code, 0);
    Result bad_format = k({"list", "--format", "xml"});
    EXPECT_NE(bad_format.code, 0);
    Result bad_log_format = k({"--log-format", "yaml", "list"});
    EXPECT_NE(bad_log_format.code, 0);
}

}  // namespace
}  // namespace kiln::testing
