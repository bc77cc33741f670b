// The plugin host: discovery in the configured directories, order by requires, the ABI check,
// config from the manifest and kiln.yaml, failures listed with their reason (and fatal only
// for a required plugin), over GET /v1/plugins and `kiln plugins`.
#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

const std::string kPlugins = KILN_TEST_PLUGINS;

// A plugin directory under `root`: plugin.yaml with these fields.
void plugin_dir(const std::string& root, const std::string& name, const std::string& manifest) {
    sh("mkdir -p " + root + "/" + name);
    std::ofstream(root + "/" + name + "/plugin.yaml") << manifest;
}

std::string manifest(const std::string& id, const std::string& kind, const std::string& library,
                     const std::string& extra = "") {
    return "id: " + id + "\nkind: " + kind + "\nversion: 1.2.3\nabi: 2\nlibrary: " + library + "\n" + extra;
}

json by_id(const json& list, const std::string& id) {
    for (const auto& p : list)
        if (p.value("id", "") == id) return p;
    ADD_FAILURE() << "no plugin " << id << " in " << list.dump();
    return json::object();
}

TEST(Plugins, LoadedInTheOrderTheyRequireWithTheirConfig) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path();
    // Found in name order (a-net, b-iso, c-recorder) but started as required: iso, net, recorder.
    plugin_dir(d, "a-net", manifest("net", "network", kPlugins + "/kiln_test_network_plugin.so",
                                      "requires: [iso]\nconfig: {bridge: kiln0, mtu: 1500}\n"));
    plugin_dir(d, "b-iso", manifest("iso", "isolator", kPlugins + "/kiln_test_isolator_plugin.so"));
    plugin_dir(d, "c-recorder", manifest("recorder", "instrumentation", kPlugins + "/kiln_test_instrumentation_plugin.so",
                                          "requires: [\"kind:network\"]\n"));
    Kilnd k("pluginDirs: [" + d + "]\nplugins:\n  net: {mtu: 9000}\n");
    auto list = k.client().call("GET", "/v1/plugins");
    ASSERT_EQ(list.size(), 3u) << list.dump();
    EXPECT_EQ(list[0]["id"], "iso");
    EXPECT_EQ(list[1]["id"], "net");
    EXPECT_EQ(list[2]["id"], "recorder");
    for (const auto& p : list) EXPECT_EQ(p["state"], "started") << p.dump();
    EXPECT_EQ(sh("cat " + k.dir() + "/state/plugins/started.log").out, "iso\nnet\nrecorder\n");
    // The manifest's defaults with kiln.yaml's section over them.
    auto cfg = json::parse(sh("cat " + k.dir() + "/state/plugins/net/config.json").out);
    EXPECT_EQ(cfg, json({{"bridge", "kiln0"}, {"mtu", 9000}}));
    auto one = k.client().call("GET", "/v1/plugins/net");
    EXPECT_EQ(one["kind"], "network");
    EXPECT_EQ(one["version"], "1.2.3");
    EXPECT_EQ(one["requires"], json::array({"iso"}));
    auto missing = k.client().request("GET", "/v1/plugins/nope");
    EXPECT_EQ(missing.status, 404);

    auto table = k.cli({"plugins"});
    EXPECT_EQ(table.code, 0) << table.err;
    EXPECT_NE(table.out.find("net  "), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("started"), std::string::npos) << table.out;
    auto as_json = k.cli({"plugins", "--format", "json"});
    EXPECT_EQ(json::parse(as_json.out).size(), 3u);
}

TEST(Plugins, FailuresAreListedWithTheirReasonAndKilndRuns) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path();
    std::string iso = kPlugins + "/kiln_test_isolator_plugin.so";
    plugin_dir(d, "abi-manifest", "id: abi-manifest\nkind: isolator\nversion: 1\nabi: 3\nlibrary: " + iso + "\n");
    plugin_dir(d, "abi-library", manifest("abi-library", "isolator", kPlugins + "/kiln_test_wrong_abi_plugin.so"));
    plugin_dir(d, "no-library", manifest("no-library", "isolator", "missing.so"));
    plugin_dir(d, "wrong-kind", manifest("wrong-kind", "network", iso));
    plugin_dir(d, "bad-yaml", "id: bad-yaml\nkind: isolator\nversion: 1\nabi: 2\nlibrary: x.so\ncolour: red\n");
    plugin_dir(d, "cycle-a", manifest("cycle-a", "isolator", iso, "requires: [cycle-b]\n"));
    plugin_dir(d, "cycle-b", manifest("cycle-b", "isolator", iso, "requires: [cycle-a]\n"));
    plugin_dir(d, "needs-ghost", manifest("needs-ghost", "isolator", iso, "requires: [ghost]\n"));
    plugin_dir(d, "needs-failed", manifest("needs-failed", "isolator", iso, "requires: [refuses]\n"));
    plugin_dir(d, "refuses", manifest("refuses", "isolator", iso, "config: {KILN_TEST_FAIL_START: true}\n"));
    plugin_dir(d, "fine", manifest("fine", "isolator", iso));
    Kilnd k("pluginDirs: [" + d + "]\n");
    auto list = k.client().call("GET", "/v1/plugins");
    auto error_of = [&](const std::string& id) {
        json p = by_id(list, id);
        EXPECT_EQ(p.value("state", ""), "failed") << p.dump();
        return p.value("error", "");
    };
    EXPECT_EQ(by_id(list, "fine")["state"], "started");
    EXPECT_NE(error_of("abi-manifest").find("ABI version 3; this kilnd loads version 2"), std::string::npos);
    EXPECT_NE(error_of("abi-library").find("was built for ABI version 999"), std::string::npos);
    EXPECT_NE(error_of("no-library").find(d + "/no-library/missing.so does not exist"), std::string::npos);
    EXPECT_NE(error_of("wrong-kind").find("says kind network, but the library's plugin is not a network plugin"),
              std::string::npos);
    EXPECT_NE(error_of("bad-yaml").find(d + "/bad-yaml/plugin.yaml:6: colour: unknown field"), std::string::npos)
        << error_of("bad-yaml");
    EXPECT_NE(error_of("cycle-a").find("cycle"), std::string::npos);
    EXPECT_NE(error_of("cycle-b").find("cycle"), std::string::npos);
    EXPECT_NE(error_of("needs-ghost").find("requires ghost, which is not installed"), std::string::npos);
    EXPECT_NE(error_of("refuses").find("isolator refuses to start"), std::string::npos);
    EXPECT_NE(error_of("needs-failed").find("requires refuses, which failed"), std::string::npos);
    // kilnd serves all the same.
    EXPECT_EQ(k.client().call("GET", "/v1/health")["status"], "ok");
}

TEST(Plugins, ARequiredPluginThatFailsStopsKilnd) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path();
    plugin_dir(d, "must", manifest("must", "isolator", "missing.so"));
    std::ofstream(d + "/kiln.yaml") << "pluginDirs: [" + d + "]\nrequiredPlugins: [must]\n";
    auto r = run({KILND_BINARY, "--config", d + "/kiln.yaml", "--socket", d + "/k.sock", "--state-dir", d + "/state",
                  "--run-dir", d + "/run", "--cgroup-parent", "kiln-plugin-test"},
                 "", 30);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("required plugin must failed: its library " + d + "/must/missing.so does not exist"),
              std::string::npos)
        << r.err;

    std::ofstream(d + "/kiln.yaml") << "pluginDirs: [" + d + "]\nrequiredPlugins: [absent]\n";
    r = run({KILND_BINARY, "--config", d + "/kiln.yaml", "--socket", d + "/k.sock", "--state-dir", d + "/state",
             "--run-dir", d + "/run", "--cgroup-parent", "kiln-plugin-test"},
            "", 30);
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.err.find("required plugin absent is not installed"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

// A pod's isolators edit each container's spec: the built-in names in their fixed order
// (resources before seccomp), then the others in the pod's order, each with its request.
TEST(Plugins, IsolatorsEditEachContainersSpecInTheDefinedOrder) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path(), iso = kPlugins + "/kiln_test_isolator_plugin.so";
    for (const char* id : {"seccomp", "resources", "zeta", "alpha"}) plugin_dir(d, id, manifest(id, "isolator", iso));
    Kilnd k("pluginDirs: [" + d + "]\n");
    k.import_busybox();
    json pod = simple_pod("iso", {"sleep", "1000"});
    pod["isolators"] = json::array({{{"name", "zeta"}},
                                    {{"name", "seccomp"}, {"config", {{"profile", "default"}}}},
                                    {{"name", "alpha"}},
                                    {{"name", "resources"}}});
    k.client().call("POST", "/v1/pods", pod);
    auto spec = json::parse(sh("cat " + k.dir() + "/state/pods/iso/containers/main/config.json").out);
    EXPECT_EQ(spec["annotations"]["org.kiln.test.order"], "resources,seccomp,zeta,alpha");
    auto req = json::parse(spec["annotations"]["org.kiln.test.seccomp"].get<std::string>());
    EXPECT_EQ(req, json({{"pod", "iso"}, {"container", "main"}, {"config", {{"profile", "default"}}}}));
    // The container runs from the edited spec.
    auto state = json::parse(run({KILN_RUNTIME_BINARY, "--root", k.dir() + "/run/runtime", "state", "iso.main"}).out);
    EXPECT_EQ(state["annotations"]["org.kiln.test.order"], "resources,seccomp,zeta,alpha");

    // An isolator that is not there refuses the pod before anything is made.
    json bad = simple_pod("noiso", {"true"});
    bad["isolators"] = json::array({{{"name", "alpha"}}, {{"name", "vm"}}});
    auto r = k.client().request("POST", "/v1/pods", bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(json::parse(r.body).value("message", ""),
              "isolators[1].name: no isolator plugin \"vm\" is started (started: alpha, resources, seccomp, zeta)");
    EXPECT_EQ(k.client().request("GET", "/v1/pods/noiso").status, 404);
}

// Instrumentation plugins hear kilnd's events, in order.
TEST(Plugins, InstrumentationPluginsHearTheEvents) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path();
    plugin_dir(d, "m", manifest("recorder", "instrumentation", kPlugins + "/kiln_test_instrumentation_plugin.so"));
    Kilnd k("pluginDirs: [" + d + "]\n");
    k.import_busybox();
    k.client().call("POST", "/v1/pods", simple_pod("heard", {"true"}));
    k.wait_pod("heard", [](const json& p) { return p["state"] == "stopped"; });
    k.client().call("DELETE", "/v1/pods/heard");
    std::string log = k.dir() + "/state/plugins/recorder/events.log";
    std::vector<std::string> types;
    for (int i = 0; i < 200; ++i) {
        types.clear();
        std::istringstream in(sh("cat " + log + " 2>/dev/null").out);
        std::string line;
        while (std::getline(in, line)) {
            auto e = json::parse(line);
            if (e.value("pod", "") == "heard") types.push_back(e.value("type", ""));
        }
        if (!types.empty() && types.back() == "pod.deleted") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.front(), "pod.created");
    EXPECT_EQ(types.back(), "pod.deleted");
    EXPECT_NE(std::find(types.begin(), types.end(), "container.exited"), types.end());
}

// A plugin's container: a system pod started before the plugin, in the host namespaces and with
// the capabilities and mounts its manifest asks for, exec'd into by the plugin, restarted when it
// dies, hidden from `kiln ps` but not `kiln ps -a`, and not deleted by hand.
// HostContext::api: a plugin granted API access (container.apiAccess) reaches kilnd's REST API
// once kilnd serves it; one without the grant is refused; a call from start() is refused too
// (kilnd serves its API only after every plugin has started).
TEST(Plugins, APluginWithApiAccessCallsTheRestApi) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path();
    plugin_dir(d, "caller", manifest("caller", "instrumentation", kPlugins + "/kiln_test_instrumentation_plugin.so",
                                       "container:\n  image: busybox\n  command: [sleep, \"100000\"]\n  apiAccess: true\n"
                                       "config: {apiOnEvent: pod.created, apiInStart: true}\n"));
    plugin_dir(d, "nocaller", manifest("nocaller", "instrumentation", kPlugins + "/kiln_test_instrumentation_plugin.so",
                                         "config: {apiOnEvent: pod.created}\n"));
    Kilnd k("pluginDirs: [" + d + "]\nimages:\n  - {path: " + busybox_layout() + ", tag: busybox}\n");
    ASSERT_EQ(k.client().request("POST", "/v1/pods", simple_pod("asked", {"sleep", "100"})).status, 201);
    auto lines = [&](const std::string& id, std::size_t n) {
        std::vector<json> out;
        for (int i = 0; i < 200; ++i) {
            out.clear();
            std::istringstream in(sh("cat " + k.dir() + "/state/plugins/" + id + "/api.log 2>/dev/null").out);
            std::string line;
            while (std::getline(in, line)) out.push_back(json::parse(line));
            if (out.size() >= n) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        return out;
    };
    auto caller = lines("caller", 2);
    ASSERT_EQ(caller.size(), 2u);
    EXPECT_NE(caller[0].value("error", "").find("call api() after start()"), std::string::npos) << caller[0].dump();
    EXPECT_EQ(caller[1].value("status", 0), 200) << caller[1].dump();
    EXPECT_EQ(caller[1]["body"].value("name", ""), "asked");
    auto nocaller = lines("nocaller", 1);
    ASSERT_EQ(nocaller.size(), 1u);
    EXPECT_NE(nocaller[0].value("error", "").find("has no API access"), std::string::npos) << nocaller[0].dump();
}

TEST(Plugins, APluginsContainerIsASystemPod) {
    KILN_REQUIRE_ROOT();
    TempDir dirs("kiln-plugins");
    std::string d = dirs.path();
    sh("mkdir -p " + d + "/shared && echo shared-data > " + d + "/shared/file");
    plugin_dir(d, "boxed", manifest("boxed", "isolator", kPlugins + "/kiln_test_isolator_plugin.so",
                                      "container:\n  image: busybox\n  command: [sleep, \"100000\"]\n"
                                      "  hostNamespaces: [net]\n  capabilities: [CAP_SYS_TIME]\n"
                                      "  mounts: [{source: " + d + "/shared, destination: /shared}]\n"
                                      "config:\n  exec: [sh, -c, \"cat /shared/file; cat; grep CapBnd /proc/self/status\"]\n"
                                      "  input: from-stdin\n"));
    Kilnd k("pluginDirs: [" + d + "]\nimages:\n  - {path: " + busybox_layout() + ", tag: busybox}\n");
    auto p = k.client().call("GET", "/v1/plugins/boxed");
    ASSERT_EQ(p["state"], "started") << p.dump();
    auto exec = json::parse(sh("cat " + k.dir() + "/state/plugins/boxed/exec.json").out);
    EXPECT_EQ(exec.value("code", -1), 0) << exec.dump();
    std::string out = exec.value("out", "");
    EXPECT_EQ(out.substr(0, out.find("CapBnd")), "shared-data\nfrom-stdin");
    // CAP_SYS_TIME is bit 25, which the default set lacks.
    std::string capbnd = out.substr(out.find("CapBnd:") + 7);
    capbnd.erase(0, capbnd.find_first_not_of(" \t"));
    EXPECT_TRUE(std::stoull(capbnd, nullptr, 16) & (1ull << 25)) << out;

    auto pod = k.client().call("GET", "/v1/pods/plugin-boxed");
    EXPECT_EQ(pod["system"], true);
    EXPECT_EQ(pod["state"], "running");
    int pid = pod["containers"][0]["pid"];
    EXPECT_EQ(sh("readlink /proc/" + std::to_string(pid) + "/ns/net").out, sh("readlink /proc/self/ns/net").out)
        << "it shares the host's network namespace";

    EXPECT_EQ(k.cli({"ps"}).out.find("plugin-boxed"), std::string::npos);
    EXPECT_NE(k.cli({"ps", "-a"}).out.find("plugin-boxed"), std::string::npos);
    auto r = k.client().request("DELETE", "/v1/pods/plugin-boxed");
    EXPECT_EQ(r.status, 412);
    EXPECT_NE(r.body.find("container of plugin boxed"), std::string::npos) << r.body;

    // Killed, it comes back.
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    auto back = k.wait_pod("plugin-boxed", [&](const json& p) {
        return p["state"] == "running" && p["containers"][0].value("pid", 0) != pid;
    });
    EXPECT_GE(back["containers"][0]["restartCount"].get<int>(), 1);

    // kilnd restarted: the running container is the plugin's again, not a new one.
    k.stop();
    k.start();
    auto again = k.client().call("GET", "/v1/pods/plugin-boxed");
    EXPECT_EQ(again["containers"][0]["pid"], back["containers"][0]["pid"]);
    EXPECT_EQ(k.client().call("GET", "/v1/plugins/boxed")["state"], "started");
    // Without the plugin, its pod goes at the next start.
    k.stop();
    sh("rm -rf " + d + "/boxed");
    k.start();
    EXPECT_EQ(k.client().request("GET", "/v1/pods/plugin-boxed").status, 404);
}

// plugins/examples/label-isolator, built outside this tree against the SDK as installed (the
// "sdk" component), then loaded by kilnd like any plugin.
TEST(Plugins, TheOutOfTreeExampleBuildsAgainstTheInstalledSdkAndLoads) {
    KILN_REQUIRE_ROOT();
    TempDir work("kiln-sdk");
    std::string w = work.path();
    auto r = sh("cmake --install " + std::string(KILN_BUILD_DIR) + " --component sdk --prefix " + w + "/sdk", 120);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    r = sh("cmake -S " + std::string(KILN_SOURCE_DIR) + "/plugins/examples/label-isolator -B " + w +
               "/build -G Ninja -DCMAKE_PREFIX_PATH=" + w + "/sdk && cmake --build " + w + "/build",
           300);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    // Nothing of kiln's tree but the SDK's header reached the build.
    EXPECT_EQ(sh("grep -l '" + std::string(KILN_SOURCE_DIR) + "/core' " + w + "/build/build.ninja || true").out, "");
    sh("mkdir -p " + w + "/plugins/label && cp " + std::string(KILN_SOURCE_DIR) +
       "/plugins/examples/label-isolator/plugin.yaml " + w + "/build/label_isolator.so " + w + "/plugins/label/");
    {
        Kilnd k("pluginDirs: [" + w + "/plugins]\nplugins:\n  label: {annotations: {team: infra}}\n");
        auto p = k.client().call("GET", "/v1/plugins/label");
        EXPECT_EQ(p["state"], "started") << p.dump();
        EXPECT_EQ(p["kind"], "isolator");
        EXPECT_NE(sh("cat " + k.dir() + "/kilnd.log").out.find("plugin label: adds 1 annotations"), std::string::npos);
    }
    // The isolator conformance suite, as for the in-tree plugins.
    r = run({std::string(KILN_BUILD_DIR) + "/bin/kiln-plugin-conformance", w + "/plugins/label", "--config",
             R"({"annotations":{"team":"infra"}})", "--pod-config", R"({"annotations":{"app":"web"}})"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("ok   eight threads at once get the same spec"), std::string::npos) << r.out;
    // Its own config check, reported as its failure.
    Kilnd k("pluginDirs: [" + w + "/plugins]\nplugins:\n  label: {annotations: 5}\n");
    auto p = k.client().call("GET", "/v1/plugins/label");
    EXPECT_EQ(p["state"], "failed");
    EXPECT_NE(p.value("error", "").find("annotations must be a map"), std::string::npos) << p.dump();
}

}  // namespace
}  // namespace kiln::testing
