// The lifecycle verbs: create, start, state, kill, delete, run, list, ps, pause, resume, and their
// errors (unknown id, duplicate id, missing bundle, delete of a live container).
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/integration/harness.hpp"

namespace kiln::testing {
namespace {

TEST(Lifecycle, RunExitsWithTheProcessStatus) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "echo out; echo err >&2; exit 7"});
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(r.code, 7) << r.err;
    EXPECT_EQ(r.out, "out\n");
    EXPECT_EQ(r.err, "err\n");
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, RunReportsDeathBySignal) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    // Not pid 1 of its own pid namespace, which ignores signals it has no handler for.
    Bundle b({"sh", "-c", "kill -USR1 $$"});
    auto& ns = b.config["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i)
        if (ns[i]["type"] == "pid") ns.erase(i);
    b.save();
    std::string id = unique_id();
    Result r = k.run(b, id);
    EXPECT_EQ(r.code, 128 + SIGUSR1);
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, RunForwardsSignalsToTheProcess) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    // Each trapped signal is acknowledged by a file, so that the next is sent only once it arrived.
    Bundle b({"sh", "-c",
              "trap 'echo got-usr2; touch /tmp/usr2' USR2; trap 'echo got-40; touch /tmp/40' 40; "
              "trap 'echo got-term; exit 42' TERM; touch /tmp/ready; while :; do sleep 0.01; done"},
             true);
    std::string id = unique_id();
    // The runtime in the background; once the traps are set, the signals go to the runtime itself.
    auto wait_for = [&](const std::string& name) {
        return "while [ ! -e " + b.rootfs() + "/tmp/" + name + " ]; do sleep 0.01; done; ";
    };
    std::string script = runtime_binary() + " --root " + k.root() + " run --bundle " + b.dir() + " " + id +
                         " & pid=$!; " + wait_for("ready") + "kill -USR2 $pid; " + wait_for("usr2") + "kill -s 40 $pid; " +
                         wait_for("40") + "kill -TERM $pid; wait $pid; echo exit=$?";
    Result r = run({"sh", "-c", script});
    EXPECT_NE(r.out.find("got-usr2\ngot-40\ngot-term"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.out.find("exit=42"), std::string::npos) << r.out << r.err;
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, CreateStartStateDelete) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    Bundle b({"sh", "-c", "echo started > /tmp/flag; sleep 100"}, true);
    std::string id = unique_id();
    std::string pidfile = t.path() + "/pid";
    Result c = k({"create", "--bundle", b.dir(), "--pid-file", pidfile, id});
    ASSERT_EQ(c.code, 0) << c.err;
    auto st = k.state(id);
    EXPECT_EQ(st["status"], "created");
    EXPECT_EQ(st["id"], id);
    EXPECT_EQ(st["bundle"], b.dir());
    EXPECT_EQ(st["ociVersion"], "1.2.0");
    int pid = st["pid"];
    EXPECT_GT(pid, 0);
    std::ifstream pf(pidfile);
    int filed = 0;
    pf >> filed;
    EXPECT_EQ(filed, pid);
    // The user process has not run yet.
    EXPECT_FALSE(std::ifstream(b.rootfs() + "/tmp/flag").good());

    Result s = k({"start", id});
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_EQ(k.state(id)["status"], "running");
    for (int i = 0; i < 200 && !std::ifstream(b.rootfs() + "/tmp/flag").good(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(std::ifstream(b.rootfs() + "/tmp/flag").good());

    Result again = k({"start", id});
    EXPECT_NE(again.code, 0);
    EXPECT_NE(again.err.find("not created"), std::string::npos) << again.err;

    Result d = k({"delete", id});
    EXPECT_NE(d.code, 0) << "deleting a running container without --force must fail";
    EXPECT_NE(d.err.find("not stopped"), std::string::npos) << d.err;
    EXPECT_EQ(k.state(id)["status"], "running") << "a refused delete must not touch the container";

    ASSERT_EQ(k({"kill", id, "KILL"}).code, 0);
    for (int i = 0; i < 200 && k.state(id)["status"] != "stopped"; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(k.state(id)["status"], "stopped");
    EXPECT_EQ(k.state(id)["pid"], 0);
    Result kill_stopped = k({"kill", id});
    EXPECT_NE(kill_stopped.code, 0);
    Result d2 = k({"delete", id});
    EXPECT_EQ(d2.code, 0) << d2.err;
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, DeleteOfCreatedNeedsForce) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"true"});
    std::string id = unique_id();
    ASSERT_EQ(k({"create", "--bundle", b.dir(), id}).code, 0);
    Result d = k({"delete", id});
    EXPECT_NE(d.code, 0);
    EXPECT_EQ(k.state(id)["status"], "created");
    int pid = k.state(id)["pid"];
    Result f = k({"delete", "--force", id});
    EXPECT_EQ(f.code, 0) << f.err;
    // Gone, or a zombie waiting for whoever inherited it.
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string pid_s, comm, state;
    if (stat >> pid_s >> comm >> state) {
        EXPECT_EQ(state, "Z") << "init must be dead after delete --force";
    }
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, KillTakesNamesAndNumbers) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "trap 'exit 3' TERM; trap 'exit 4' USR2; while :; do sleep 0.01; done"});
    for (const char* sig : {"TERM", "SIGTERM", "15"}) {
        std::string id = unique_id();
        ASSERT_EQ(k({"run", "-d", "--bundle", b.dir(), id}).code, 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        Result r = k({"kill", id, sig});
        EXPECT_EQ(r.code, 0) << sig << ": " << r.err;
        for (int i = 0; i < 300 && k.state(id)["status"] != "stopped"; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        EXPECT_EQ(k.state(id)["status"], "stopped") << sig;
        EXPECT_EQ(k({"delete", id}).code, 0);
        expect_no_leftovers(k, id);
    }
    std::string id = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", b.dir(), id}).code, 0);
    Result bad = k({"kill", id, "NOTASIGNAL"});
    EXPECT_NE(bad.code, 0);
    EXPECT_NE(bad.err.find("invalid signal"), std::string::npos) << bad.err;
    EXPECT_EQ(k({"kill", "--all", id, "KILL"}).code, 0);
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, UnknownDuplicateAndMissing) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    for (const char* verb : {"state", "start", "kill", "delete", "pause", "resume", "ps"}) {
        Result r = k({verb, "no-such-container"});
        EXPECT_NE(r.code, 0) << verb;
        EXPECT_NE(r.err.find("container \"no-such-container\" does not exist"), std::string::npos) << verb << ": " << r.err;
    }
    EXPECT_EQ(k({"delete", "--force", "no-such-container"}).code, 0) << "runc: delete --force of nothing succeeds";

    // A create killed before it wrote its record leaves a directory: delete removes it, and
    // reports the container missing unless --force.
    for (bool force : {false, true}) {
        std::string orphan = k.root() + "/" + "orphan-" + std::to_string(force);
        std::filesystem::create_directories(orphan);
        std::ofstream(orphan + "/lock");
        std::ofstream(orphan + "/config.json") << "{}";
        Result r = force ? k({"delete", "--force", "orphan-1"}) : k({"delete", "orphan-0"});
        EXPECT_EQ(r.code, force ? 0 : 1) << r.err;
        EXPECT_NE(r.err.find("left without a record"), std::string::npos) << r.err;
        EXPECT_FALSE(std::filesystem::exists(orphan));
    }

    Bundle b({"sleep", "10"});
    std::string id = unique_id();
    ASSERT_EQ(k({"create", "--bundle", b.dir(), id}).code, 0);
    Result dup = k({"create", "--bundle", b.dir(), id});
    EXPECT_NE(dup.code, 0);
    EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;
    EXPECT_EQ(k.state(id)["status"], "created") << "a duplicate create must not disturb the first";
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);

    std::string id2 = unique_id();
    Result missing = k({"create", "--bundle", "/nonexistent/bundle", id2});
    EXPECT_NE(missing.code, 0);
    EXPECT_NE(missing.err.find("bundle /nonexistent/bundle"), std::string::npos) << missing.err;
    Result bad_id = k({"create", "--bundle", b.dir(), "bad/id"});
    EXPECT_NE(bad_id.code, 0);
    EXPECT_NE(bad_id.err.find("invalid container ID"), std::string::npos) << bad_id.err;
    expect_no_leftovers(k, id);
    expect_no_leftovers(k, id2);
}

TEST(Lifecycle, ListAndPs) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "sleep 100 & sleep 100; true"});
    std::string id = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", b.dir(), id}).code, 0);
    Result q = k({"list", "-q"});
    EXPECT_EQ(q.out, id + "\n");
    Result j = k({"list", "--format", "json"});
    auto arr = nlohmann::json::parse(j.out);
    ASSERT_EQ(arr.size(), 1u);
    EXPECT_EQ(arr[0]["id"], id);
    EXPECT_EQ(arr[0]["status"], "running");
    Result t = k({"list"});
    EXPECT_EQ(t.out.rfind("ID", 0), 0u) << t.out;
    EXPECT_NE(t.out.find(id), std::string::npos);

    std::vector<int> pids;
    for (int i = 0; i < 100 && pids.size() < 3; ++i) {
        pids = nlohmann::json::parse(k({"ps", "--format", "json", id}).out).get<std::vector<int>>();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(pids.size(), 3u) << "sh and two sleeps";
    int init = k.state(id)["pid"];
    EXPECT_NE(std::find(pids.begin(), pids.end(), init), pids.end());
    Result table = k({"ps", id});
    EXPECT_EQ(table.code, 0) << table.err;
    EXPECT_NE(table.out.find("PID"), std::string::npos);
    EXPECT_NE(table.out.find("sleep 100"), std::string::npos) << table.out;
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, PauseAndResumeFreezeTheProcesses) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done"}, true);
    std::string id = unique_id();
    ASSERT_EQ(k({"run", "-d", "--bundle", b.dir(), id}).code, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(k({"pause", id}).code, 0);
    EXPECT_EQ(k.state(id)["status"], "paused");
    // The loop truncates and rewrites the file: retry past an empty read.
    auto count = [&] {
        long n = 0;
        for (int i = 0; i < 1000 && n == 0; ++i) {
            std::ifstream f(b.rootfs() + "/tmp/count");
            f >> n;
        }
        return n;
    };
    long a = count();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(count(), a) << "a paused container must not run";
    Result again = k({"pause", id});
    EXPECT_NE(again.code, 0);
    ASSERT_EQ(k({"resume", id}).code, 0);
    EXPECT_EQ(k.state(id)["status"], "running");
    long b2 = count();
    for (int i = 0; i < 200 && b2 <= a; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        b2 = count();
    }
    EXPECT_GT(b2, a) << "a resumed container runs again";
    EXPECT_NE(k({"resume", id}).code, 0) << "resume of a running container is an error";
    EXPECT_EQ(k({"delete", "--force", id}).code, 0);
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, ConcurrentCommandsOnOneContainerAreSerialized) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    Bundle b({"sleep", "100"});
    std::string id = unique_id();
    ASSERT_EQ(k({"create", "--bundle", b.dir(), id}).code, 0);
    // Many deletes and states at once: exactly one delete wins, the others see a clean result.
    std::vector<std::thread> threads;
    std::atomic<int> deleted{0}, not_found{0}, other{0};
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&] {
            Result r = k({"delete", "--force", id});
            Result s = k({"state", id});
            if (r.code == 0) ++deleted;
            if (s.code != 0 && s.err.find("does not exist") != std::string::npos) {
                ++not_found;
            } else {
                ++other;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(deleted.load(), 8) << "delete --force of a container being deleted succeeds like runc";
    EXPECT_EQ(not_found.load(), 8);
    EXPECT_EQ(other.load(), 0);
    expect_no_leftovers(k, id);
}

TEST(Lifecycle, VersionFeaturesAndSpec) {
    Kiln k;
    Result v = k({"--version"});
    EXPECT_EQ(v.code, 0);
    EXPECT_NE(v.out.find("kiln-runtime version"), std::string::npos);
    EXPECT_NE(v.out.find("commit:"), std::string::npos);
    EXPECT_NE(v.out.find("spec: 1.2.0"), std::string::npos);
    auto f = nlohmann::json::parse(k({"features"}).out);
    EXPECT_EQ(f["ociVersionMax"], "1.2.0");
    EXPECT_TRUE(f["linux"]["seccomp"]["enabled"]);
    EXPECT_NE(std::find(f["linux"]["namespaces"].begin(), f["linux"]["namespaces"].end(), "time"),
              f["linux"]["namespaces"].end());
    EXPECT_NE(std::find(f["mountOptions"].begin(), f["mountOptions"].end(), "rbind"), f["mountOptions"].end());

    TempDir t;
    ASSERT_EQ(k({"spec", "--bundle", t.path()}).code, 0);
    std::ifstream in(t.path() + "/config.json");
    auto spec = nlohmann::json::parse(in);
    EXPECT_EQ(spec["ociVersion"], "1.2.0");
    EXPECT_EQ(spec["root"]["path"], "rootfs");
    Result again = k({"spec", "--bundle", t.path()});
    EXPECT_NE(again.code, 0) << "spec must not overwrite a config";
    TempDir t2;
    ASSERT_EQ(k({"spec", "--rootless", "--bundle", t2.path()}).code, 0);
    std::ifstream in2(t2.path() + "/config.json");
    auto rootless = nlohmann::json::parse(in2);
    EXPECT_EQ(rootless["linux"]["uidMappings"][0]["hostID"], getuid());
}

TEST(Lifecycle, GlobalFlagsAndLog) {
    KILN_REQUIRE_ROOT();
    Kiln k;
    TempDir t;
    std::string log = t.path() + "/log.json";
    Result r = k({"--log", log, "--log-format", "json", "state", "nope"});
    EXPECT_NE(r.code, 0);
    std::ifstream in(log);
    std::string line;
    std::getline(in, line);
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["level"], "error");
    EXPECT_NE(j["msg"].get<std::string>().find("does not exist"), std::string::npos);
    EXPECT_TRUE(j.contains("time"));
    Result sd = k({"--systemd-cgroup", "list"});
    EXPECT_NE(sd.code, 0);
    EXPECT_NE(sd.err.find("systemd"), std::string::npos) << sd.err;
    // Go-style single-dash long flags, as some callers write them.
    Result single = k({"-log-format", "json", "list", "-q"});
    EXPECT_EQ(single.code, 0) << single.err;
}

}  // namespace
}  // namespace kiln::testing
