// kiln.yaml: defaults, every key's rules, errors as "<file>:<line>: <path>: ...", the embedded
// default and the appliance example.
#include "core/daemon/config.hpp"

#include <gtest/gtest.h>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::daemon {
namespace {

using nlohmann::json;

const std::string source = "/etc/kiln/kiln.yaml";

std::string error_of(const std::string& text) {
    try {
        parse_config(text, source);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        return e.what();
    }
    return "<no error>";
}

Config parse(const std::string& text) { return parse_config(text, source); }

TEST(Config, EmptyTextIsAllDefaults) {
    Config defaults;
    defaults.source = source;
    EXPECT_EQ(parse(""), defaults);
    EXPECT_EQ(parse("# nothing here\n"), defaults);
    EXPECT_EQ(parse("---\n"), defaults);
    EXPECT_EQ(parse("~\n"), defaults);
}

TEST(Config, Defaults) {
    Config c = parse("");
    EXPECT_EQ(c.state_dir, "/var/lib/kiln");
    EXPECT_EQ(c.run_dir, "/run/kiln");
    EXPECT_EQ(c.cgroup_parent, "kiln");
    EXPECT_FALSE(c.stop_pods_on_exit);
    EXPECT_EQ(c.api.socket, "");
    EXPECT_EQ(c.socket_path(), "/run/kiln/kiln.sock");
    EXPECT_EQ(c.api.socket_mode, 0660u);
    EXPECT_EQ(c.api.socket_group, "");
    EXPECT_EQ(c.api.max_body_bytes, 1u << 20);
    EXPECT_EQ(c.api.request_timeout, 30.0);
    EXPECT_EQ(c.api.idle_timeout, 120.0);
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.log.format, "text");
    EXPECT_EQ(c.container_logs.max_size, 10u << 20);
    EXPECT_EQ(c.container_logs.max_files, 3);
    EXPECT_TRUE(c.pods.empty());
    ASSERT_EQ(c.networks.size(), 1u);
    EXPECT_EQ(c.networks[0].name, "default");
    EXPECT_EQ(c.networks[0].plugin, "cni");
    EXPECT_EQ(c.networks[0].config["plugins"][0]["bridge"], "kiln0");
    EXPECT_EQ(c.networks[0].config["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "10.88.0.0/16");
    EXPECT_EQ(c.networks[0].config["plugins"][1]["type"], "portmap");
    EXPECT_EQ(c.default_networks, std::vector<std::string>{"default"});
    EXPECT_EQ(c.plugins, json::object());
    EXPECT_EQ(c.source, source);
}

TEST(Config, EmbeddedDefaultIsTheDefaults) {
    std::string_view text = embedded_default_config();
    EXPECT_EQ(text, testing::slurp(std::string(KILN_SOURCE_DIR) + "/configs/kiln.yaml"));
    // The blob is followed by a NUL, so its text is usable as a C string too.
    EXPECT_EQ(text.data()[text.size()], '\0');
    Config defaults;
    defaults.source = "<embedded>";
    EXPECT_EQ(parse_config(std::string(text), "<embedded>"), defaults);
}

TEST(Config, EmbeddedDefaultNamesEveryKey) {
    std::string text(embedded_default_config());
    for (const char* key : {"\nstateDir:", "\nrunDir:", "\ncgroupParent:", "\nstopPodsOnExit:", "\napi:",
                            "\n  socket:", "\n  socketMode:", "\n  socketGroup:", "\n  maxBodyBytes:",
                            "\n  requestTimeout:", "\n  idleTimeout:", "\nlog:", "\n  level:", "\n  format:",
                            "\ncontainerLogs:", "\n  maxSize:", "\n  maxFiles:", "\nregistries:", "\nauthFile:", "\npods:",
                            "\nnetworks:", "\ndefaultNetworks:", "\nplugins:", "\npluginDirs:", "\nrequiredPlugins:",
                            "\ndisabledPlugins:"})
        EXPECT_NE(text.find(key), std::string::npos) << key << " is not set in configs/kiln.yaml";
}

TEST(Config, ReadsEveryKey) {
    Config c = parse(R"(
stateDir: /data/kiln
runDir: /run/k
cgroupParent: system.slice/kiln
stopPodsOnExit: true
api:
  socket: /run/k/api.sock
  socketMode: "0600"
  socketGroup: kiln
  maxBodyBytes: 4m
  requestTimeout: 10s
  idleTimeout: 1m
log:
  level: debug
  format: json
containerLogs:
  maxSize: 1g
  maxFiles: 1
pods:
  - name: web
    containers: [{name: httpd, image: localhost/kiln-busybox:latest}]
networks:
  - name: bridge
    plugin: cni
    config: {subnet: 10.88.0.0/16}
defaultNetworks: []
plugins:
  cni: {binDir: /usr/lib/cni, mtu: 1500}
)");
    EXPECT_EQ(c.state_dir, "/data/kiln");
    EXPECT_EQ(c.run_dir, "/run/k");
    EXPECT_EQ(c.cgroup_parent, "system.slice/kiln");
    EXPECT_TRUE(c.stop_pods_on_exit);
    EXPECT_EQ(c.socket_path(), "/run/k/api.sock");
    EXPECT_EQ(c.api.socket_mode, 0600u);
    EXPECT_EQ(c.api.socket_group, "kiln");
    EXPECT_EQ(c.api.max_body_bytes, 4u << 20);
    EXPECT_EQ(c.api.request_timeout, 10.0);
    EXPECT_EQ(c.api.idle_timeout, 60.0);
    EXPECT_EQ(c.log.level, "debug");
    EXPECT_EQ(c.log.format, "json");
    EXPECT_EQ(c.container_logs.max_size, 1u << 30);
    EXPECT_EQ(c.container_logs.max_files, 1);
    ASSERT_EQ(c.pods.size(), 1u);
    EXPECT_EQ(c.pods[0].containers[0].image, "localhost/kiln-busybox:latest");
    ASSERT_EQ(c.networks.size(), 1u);
    EXPECT_EQ(c.networks[0], (NetworkDef{"bridge", "cni", json::parse(R"({"subnet": "10.88.0.0/16"})")}));
    EXPECT_TRUE(c.default_networks.empty());
    EXPECT_EQ(c.plugins, json::parse(R"({"cni": {"binDir": "/usr/lib/cni", "mtu": 1500}})"));
}

TEST(Config, RunDirMovesTheDefaultSocket) {
    EXPECT_EQ(parse("runDir: /tmp/k\n").socket_path(), "/tmp/k/kiln.sock");
    EXPECT_EQ(parse("runDir: /tmp/k\napi: {socket: \"\"}\n").socket_path(), "/tmp/k/kiln.sock");
}

TEST(Config, ErrorsNameFileLineAndPath) {
    EXPECT_EQ(error_of("# kilnd\n\napi:\n  socket: /run/kiln.sock\n  socketMode: rw-rw----\n"),
              R"(/etc/kiln/kiln.yaml:5: api.socketMode: must be an octal mode like "0660")");
}

TEST(Config, UnknownKeysNameTheKeyAndLine) {
    EXPECT_TRUE(error_of("stateDir: /x\nstatedir: /y\n").starts_with("/etc/kiln/kiln.yaml:2: statedir: unknown field (known here: stateDir,"))
        << error_of("stateDir: /x\nstatedir: /y\n");
    EXPECT_EQ(error_of("api:\n  socket: /s\n  timeout: 5\n"),
              "/etc/kiln/kiln.yaml:3: api.timeout: unknown field (known here: socket, socketMode, socketGroup, "
              "maxBodyBytes, requestTimeout, idleTimeout)");
    EXPECT_EQ(error_of("log:\n  colour: true\n"), "/etc/kiln/kiln.yaml:2: log.colour: unknown field (known here: level, format)");
    EXPECT_EQ(error_of("containerLogs: {maxAge: 3}\n"),
              "/etc/kiln/kiln.yaml:1: containerLogs.maxAge: unknown field (known here: maxSize, maxFiles)");
}

TEST(Config, YamlSyntaxErrorsNameTheLine) {
    EXPECT_EQ(error_of("stateDir: /x\napi: [1,\nlog: {}\n"),
              "/etc/kiln/kiln.yaml:4: invalid YAML: end of sequence flow not found");
    EXPECT_TRUE(error_of("a: b\n  c: d\n").starts_with("/etc/kiln/kiln.yaml:2: invalid YAML: ")) << error_of("a: b\n  c: d\n");
}

TEST(Config, OneDocumentOnly) {
    EXPECT_EQ(error_of("stateDir: /x\n---\nstateDir: /y\n"),
              "/etc/kiln/kiln.yaml:3: a second YAML document; the config is one document");
}

TEST(Config, DuplicateKeys) {
    EXPECT_EQ(error_of("log: {level: info}\nrunDir: /r\nlog: {level: debug}\n"), "/etc/kiln/kiln.yaml:3: log: duplicate key");
}

TEST(Config, TopLevelMustBeAMap) {
    EXPECT_EQ(error_of("- a\n- b\n"), "/etc/kiln/kiln.yaml:1: expected an object, got an array");
    EXPECT_EQ(error_of("kiln\n"), "/etc/kiln/kiln.yaml:1: expected an object, got a string");
}

TEST(Config, Directories) {
    EXPECT_EQ(error_of("stateDir: var/lib/kiln\n"), R"(/etc/kiln/kiln.yaml:1: stateDir: "var/lib/kiln" is not an absolute path)");
    EXPECT_EQ(error_of("runDir: 5\n"), "/etc/kiln/kiln.yaml:1: runDir: expected a string, got an integer");
    EXPECT_EQ(error_of("\nrunDir: \"\"\n"), R"(/etc/kiln/kiln.yaml:2: runDir: "" is not an absolute path)");
}

TEST(Config, CgroupParent) {
    EXPECT_EQ(parse("cgroupParent: kiln.slice\n").cgroup_parent, "kiln.slice");
    EXPECT_EQ(parse("cgroupParent: a/b/c\n").cgroup_parent, "a/b/c");
    for (const char* bad : {"/kiln", "", "kiln/", "a//b", "../kiln", "a/../b", "a/.", "."})
        EXPECT_EQ(error_of(std::string("cgroupParent: \"") + bad + "\"\n"),
                  std::string("/etc/kiln/kiln.yaml:1: cgroupParent: \"") + bad +
                      R"(" is not a relative cgroup path like "kiln" or "system.slice/kiln")");
    EXPECT_EQ(error_of("cgroupParent: [a]\n"), "/etc/kiln/kiln.yaml:1: cgroupParent: expected a string, got an array");
}

TEST(Config, StopPodsOnExit) {
    EXPECT_EQ(error_of("stopPodsOnExit: yes\n"),
              "/etc/kiln/kiln.yaml:1: stopPodsOnExit: expected a boolean (true or false), got a string");
}

TEST(Config, SocketModeIsOctal) {
    auto mode = [](const std::string& v) { return parse("api:\n  socketMode: " + v + "\n").api.socket_mode; };
    EXPECT_EQ(mode("\"0660\""), 0660u);
    EXPECT_EQ(mode("'600'"), 0600u);
    EXPECT_EQ(mode("0660"), 0660u);  // a plain 0660 is the integer 660 to YAML 1.2; read as chmod would
    EXPECT_EQ(mode("660"), 0660u);
    EXPECT_EQ(mode("0o640"), 0640u);
    EXPECT_EQ(mode("\"2770\""), 02770u);
    for (const char* bad : {"\"0680\"", "\"rw\"", "\"\"", "\"17777\"", "0x1b0", "-1", "\"066O\""})
        EXPECT_EQ(error_of(std::string("api:\n  socketMode: ") + bad + "\n"),
                  R"(/etc/kiln/kiln.yaml:2: api.socketMode: must be an octal mode like "0660")")
            << bad;
    EXPECT_EQ(error_of("api:\n  socketMode: true\n"),
              R"(/etc/kiln/kiln.yaml:2: api.socketMode: expected an octal mode like "0660", got a boolean)");
}

TEST(Config, SocketAndGroup) {
    EXPECT_EQ(error_of("api: {socket: kiln.sock}\n"), R"(/etc/kiln/kiln.yaml:1: api.socket: "kiln.sock" is not an absolute path)");
    EXPECT_EQ(parse("api: {socketGroup: 990}\n").api.socket_group, "990");
    EXPECT_EQ(parse("api: {socketGroup: \"990\"}\n").api.socket_group, "990");
    EXPECT_EQ(error_of("api: {socketGroup: -1}\n"), "/etc/kiln/kiln.yaml:1: api.socketGroup: -1 is below the minimum of 0");
    EXPECT_EQ(error_of("api: {socketGroup: [a]}\n"), "/etc/kiln/kiln.yaml:1: api.socketGroup: expected a string, got an array");
}

TEST(Config, BodyLimitIsASize) {
    EXPECT_EQ(parse("api: {maxBodyBytes: 4096}\n").api.max_body_bytes, 4096u);
    EXPECT_EQ(parse("api: {maxBodyBytes: 64k}\n").api.max_body_bytes, 64u << 10);
    EXPECT_EQ(error_of("api: {maxBodyBytes: 0}\n"), "/etc/kiln/kiln.yaml:1: api.maxBodyBytes: must be more than 0");
    EXPECT_TRUE(error_of("api: {maxBodyBytes: lots}\n").starts_with(R"(/etc/kiln/kiln.yaml:1: api.maxBodyBytes: "lots" is not a size)"));
}

TEST(Config, TimeoutsAreDurations) {
    Config c = parse("api:\n  requestTimeout: 1.5\n  idleTimeout: 1h\n");
    EXPECT_EQ(c.api.request_timeout, 1.5);
    EXPECT_EQ(c.api.idle_timeout, 3600.0);
    EXPECT_EQ(parse("api: {requestTimeout: 250ms}\n").api.request_timeout, 0.25);
    EXPECT_EQ(error_of("api:\n  requestTimeout: 0\n"), "/etc/kiln/kiln.yaml:2: api.requestTimeout: must be more than 0");
    EXPECT_EQ(error_of("api:\n  idleTimeout: 0s\n"), "/etc/kiln/kiln.yaml:2: api.idleTimeout: must be more than 0");
    EXPECT_EQ(error_of("api:\n  idleTimeout: -3\n"), "/etc/kiln/kiln.yaml:2: api.idleTimeout: must not be negative");
    EXPECT_EQ(error_of("api:\n  idleTimeout: 2 minutes\n"),
              R"(/etc/kiln/kiln.yaml:2: api.idleTimeout: "2 minutes" is not a duration: use seconds (10) or a string like "10s", "1m30s", "500ms")");
}

TEST(Config, Log) {
    for (const char* level : {"trace", "debug", "info", "warn", "error"})
        EXPECT_EQ(parse(std::string("log: {level: ") + level + "}\n").log.level, level);
    EXPECT_EQ(error_of("log:\n  level: verbose\n"),
              R"(/etc/kiln/kiln.yaml:2: log.level: "verbose" is not one of "trace", "debug", "info", "warn", "error")");
    EXPECT_EQ(error_of("log:\n  level: INFO\n"),
              R"(/etc/kiln/kiln.yaml:2: log.level: "INFO" is not one of "trace", "debug", "info", "warn", "error")");
    EXPECT_EQ(error_of("log:\n  format: xml\n"), R"(/etc/kiln/kiln.yaml:2: log.format: "xml" is not one of "text", "json")");
    EXPECT_EQ(error_of("log: debug\n"), "/etc/kiln/kiln.yaml:1: log: expected an object, got a string");
}

TEST(Config, ContainerLogs) {
    EXPECT_EQ(parse("containerLogs: {maxSize: 1048576}\n").container_logs.max_size, 1u << 20);
    EXPECT_EQ(parse("containerLogs: {maxSize: 512K}\n").container_logs.max_size, 512u << 10);
    EXPECT_EQ(error_of("containerLogs:\n  maxFiles: 0\n"), "/etc/kiln/kiln.yaml:2: containerLogs.maxFiles: 0 is below the minimum of 1");
    EXPECT_EQ(error_of("containerLogs:\n  maxFiles: \"3\"\n"), "/etc/kiln/kiln.yaml:2: containerLogs.maxFiles: expected an integer, got a string");
    EXPECT_EQ(error_of("containerLogs:\n  maxSize: 0\n"), "/etc/kiln/kiln.yaml:2: containerLogs.maxSize: must be more than 0");
    EXPECT_TRUE(error_of("containerLogs:\n  maxSize: 10 MB\n").starts_with(R"(/etc/kiln/kiln.yaml:2: containerLogs.maxSize: "10 MB" is not a size)"));
}

TEST(Config, ImagesToImport) {
    auto c = parse("images:\n  - {path: /srv/app.oci.tar, tag: app:1}\n  - path: /srv/layout\n    tag: base\n");
    ASSERT_EQ(c.images.size(), 2u);
    EXPECT_EQ(c.images[0].path, "/srv/app.oci.tar");
    EXPECT_EQ(c.images[0].tag, "app:1");
    EXPECT_EQ(c.images[1].path, "/srv/layout");
    EXPECT_EQ(c.images[1].tag, "base");
    EXPECT_TRUE(error_of("images:\n  - {path: rel, tag: x}\n").starts_with("/etc/kiln/kiln.yaml:2: images[0].path:"));
    EXPECT_TRUE(error_of("images:\n  - {path: /a}\n").starts_with("/etc/kiln/kiln.yaml:2: images[0].tag: is required"));
    EXPECT_TRUE(error_of("images:\n  - {path: /a, tag: x, sha: y}\n").find("sha") != std::string::npos);
    EXPECT_TRUE(error_of("images: {path: /a}\n").starts_with("/etc/kiln/kiln.yaml:1: images:"));
}

TEST(Config, Registries) {
    auto c = parse("registries:\n  \"127.0.0.1:5000\": {insecure: true}\n  registry.example.com:\n"
                   "    caFile: /etc/kiln/ca.pem\n    username: ci\n    password: s3cret\nauthFile: /etc/kiln/auth.json\n");
    ASSERT_EQ(c.registries.size(), 2u);
    EXPECT_EQ(c.registries.at("127.0.0.1:5000").insecure, true);
    const auto& r = c.registries.at("registry.example.com");
    EXPECT_FALSE(r.insecure.has_value()) << "unset: the default for the host";
    EXPECT_EQ(r.ca_file, "/etc/kiln/ca.pem");
    EXPECT_EQ(r.username, "ci");
    EXPECT_EQ(r.password, "s3cret");
    EXPECT_EQ(c.auth_path(), "/etc/kiln/auth.json");
    EXPECT_EQ(parse("stateDir: /srv/kiln\n").auth_path(), "/srv/kiln/auth.json");
    EXPECT_EQ(error_of("registries:\n  busybox: {insecure: true}\n"),
              "/etc/kiln/kiln.yaml:2: registries.busybox: \"busybox\" is not a registry name (host or host:port)");
    EXPECT_TRUE(error_of("registries:\n  r.example: {username: ci}\n").starts_with(
        "/etc/kiln/kiln.yaml:2: registries[\"r.example\"]: username and password go together"))
        << error_of("registries:\n  r.example: {username: ci}\n");
    EXPECT_TRUE(error_of("registries:\n  r.example:\n    insecure: maybe\n").starts_with("/etc/kiln/kiln.yaml:3: registries[\"r.example\"].insecure:"))
        << error_of("registries:\n  r.example:\n    insecure: maybe\n");
    EXPECT_TRUE(error_of("registries:\n  r.example: {caFile: rel.pem}\n").find("caFile") != std::string::npos);
    EXPECT_TRUE(error_of("registries:\n  r.example: {mirror: x}\n").find("mirror: unknown field") != std::string::npos);
    EXPECT_TRUE(error_of("authFile: relative\n").starts_with("/etc/kiln/kiln.yaml:1: authFile:"));
}

TEST(Config, EmptySectionsKeepTheirDefaults) {
    Config defaults;
    defaults.source = source;
    EXPECT_EQ(parse("api:\nlog:\ncontainerLogs:\npods:\nnetworks:\nplugins:\n"), defaults);
}

TEST(Config, PodErrorsCarryThePathFromTheFileAndTheLine) {
    EXPECT_EQ(error_of(R"(log: {level: info}
pods:
  - name: web
    containers:
      - name: httpd
        image: busybox
      - name: Web
        image: busybox
)"),
              R"(/etc/kiln/kiln.yaml:7: pods[0].containers[1].name: "Web" is not a DNS label (lowercase letters, digits and '-', at most 63))");
    EXPECT_EQ(error_of("pods:\n  - name: web\n    containers:\n      - name: a\n"),
              "/etc/kiln/kiln.yaml:4: pods[0].containers[0].image: is required");
    EXPECT_EQ(error_of("pods:\n  - name: web\n    containers: [{name: a, image: b, memory: 1g}]\n").substr(0, 68),
              "/etc/kiln/kiln.yaml:3: pods[0].containers[0].memory: unknown field (");
}

TEST(Config, PodNamesAreUnique) {
    EXPECT_EQ(error_of(R"(pods:
  - name: web
    containers: [{name: a, image: b}]
  - name: web
    containers: [{name: a, image: b}]
)"),
              R"(/etc/kiln/kiln.yaml:4: pods[1].name: "web" is already the name of pods[0])");
    EXPECT_EQ(error_of("pods: {web: {}}\n"), "/etc/kiln/kiln.yaml:1: pods: expected an array of pods, got an object");
}

TEST(Config, NetworksAreNamedAndGivenToAPlugin) {
    auto map = parse("networks: {lan: {plugin: cni, config: {cniVersion: 1.0.0, plugins: [{type: bridge}]}}}\ndefaultNetworks: [lan]\n");
    ASSERT_EQ(map.networks.size(), 1u);
    EXPECT_EQ(map.networks[0].name, "lan");
    EXPECT_EQ(map.networks[0].config["plugins"][0]["type"], "bridge");
    EXPECT_EQ(map.default_networks, std::vector<std::string>{"lan"});
    EXPECT_EQ(parse("networks: []\ndefaultNetworks: []\n").networks.size(), 0u);
    EXPECT_EQ(error_of("networks: bridge\n"),
              "/etc/kiln/kiln.yaml:1: networks: expected a list of {name, plugin, config} or a map of name to {plugin, config}, got a string");
    EXPECT_EQ(error_of("networks: [{name: a}]\n"), "/etc/kiln/kiln.yaml:1: networks[0].plugin: is required");
    EXPECT_EQ(error_of("networks: [{name: host, plugin: cni}]\n"),
              "/etc/kiln/kiln.yaml:1: networks[0].name: \"host\" is not a network name (a DNS label other than none and host)");
    EXPECT_EQ(error_of("networks: [{name: a, plugin: cni}, {name: a, plugin: cni}]\n"),
              "/etc/kiln/kiln.yaml:1: networks[1].name: \"a\" is listed twice");
    EXPECT_EQ(error_of("networks: [{name: a, plugin: cni, config: [1]}]\n"),
              "/etc/kiln/kiln.yaml:1: networks[0].config: expected a map (the plugin's description of the network), got an array");
    EXPECT_EQ(error_of("defaultNetworks: [lan]\n"), "/etc/kiln/kiln.yaml:1: defaultNetworks[0]: \"lan\" is not a network of `networks`");
    EXPECT_EQ(error_of("requiredPlugins: [cni]\ndisabledPlugins: [cni]\n"),
              "/etc/kiln/kiln.yaml:1: requiredPlugins[0]: \"cni\" is also in disabledPlugins");
}

TEST(Config, PluginsAreKeptAsJson) {
    EXPECT_EQ(parse("plugins: {metrics: {listen: \"127.0.0.1:9100\", enabled: true, ratio: 0.5, tags: ~}}\n").plugins,
              json::parse(R"({"metrics": {"listen": "127.0.0.1:9100", "enabled": true, "ratio": 0.5, "tags": null}})"));
    EXPECT_EQ(error_of("plugins: [cni]\n"), "/etc/kiln/kiln.yaml:1: plugins: expected a map of plugin id to its config, got an array");
    // Even in free-form sections a key may appear once.
    EXPECT_EQ(error_of("plugins:\n  cni: {}\n  cni: {}\n"), "/etc/kiln/kiln.yaml:3: plugins.cni: duplicate key");
}

TEST(Config, SourceNamesTheText) {
    try {
        parse_config("log: {level: loud}\n", "kiln.yaml");
        FAIL();
    } catch (const Error& e) {
        EXPECT_TRUE(std::string(e.what()).starts_with("kiln.yaml:1: log.level: ")) << e.what();
    }
    EXPECT_EQ(parse_config("", "x.yaml").source, "x.yaml");
}

TEST(Config, LoadReadsTheNamedFile) {
    testing::TempDir dir;
    testing::put_file(dir / "kiln.yaml", "stateDir: /srv/kiln\n");
    Config c = load_config(dir / "kiln.yaml");
    EXPECT_EQ(c.state_dir, "/srv/kiln");
    EXPECT_EQ(c.source, dir / "kiln.yaml");
    testing::put_file(dir / "bad.yaml", "\nstateDir: srv\n");
    try {
        load_config(dir / "bad.yaml");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), dir / "bad.yaml" + R"(:2: stateDir: "srv" is not an absolute path)");
    }
}

TEST(Config, LoadOfAMissingExplicitPathIsAnErrorNamingIt) {
    testing::TempDir dir;
    try {
        load_config(dir / "nope.yaml");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::not_found);
        EXPECT_NE(std::string(e.what()).find(dir / "nope.yaml"), std::string::npos) << e.what();
    }
}

TEST(Config, LoadWithoutAPathUsesEtcOrTheEmbeddedDefault) {
    Config c = load_config("");
    if (path_exists(default_config_path)) {
        EXPECT_EQ(c.source, default_config_path);
    } else {
        Config defaults;
        defaults.source = "<embedded>";
        EXPECT_EQ(c, defaults);
    }
}

TEST(Config, ApplianceExampleParses) {
    std::string path = std::string(KILN_SOURCE_DIR) + "/configs/appliance-example.yaml";
    Config c = load_config(path);
    ASSERT_EQ(c.pods.size(), 2u);
    const PodSpec& web = c.pods[0];
    EXPECT_EQ(web.name, "web");
    EXPECT_EQ(web.restart_policy.kind, RestartPolicy::Kind::always);
    ASSERT_EQ(web.containers.size(), 1u);
    EXPECT_EQ(web.containers[0].image, "localhost/kiln-busybox:latest");
    const PodSpec& worker = c.pods[1];
    EXPECT_EQ(worker.restart_policy.kind, RestartPolicy::Kind::on_failure);
    ASSERT_EQ(worker.containers.size(), 2u);
    ASSERT_EQ(worker.volumes.size(), 1u);
    // Both containers mount the one shared volume.
    for (const auto& container : worker.containers) {
        EXPECT_EQ(container.image, "localhost/kiln-busybox:latest");
        ASSERT_EQ(container.volume_mounts.size(), 1u) << container.name;
        EXPECT_EQ(container.volume_mounts[0].name, worker.volumes[0].name);
    }
}

// The fenced blocks of a Markdown file in the given language.
std::vector<std::string> code_blocks(const std::string& markdown, const std::string& language) {
    std::vector<std::string> blocks;
    std::string open = "```" + language + "\n";
    for (auto at = markdown.find(open); at != std::string::npos; at = markdown.find(open, at)) {
        at += open.size();
        auto end = markdown.find("```", at);
        blocks.push_back(markdown.substr(at, end - at));
        at = end;
    }
    return blocks;
}

TEST(Config, ReferenceExamplesAreValid) {
    std::string doc = testing::slurp(std::string(KILN_SOURCE_DIR) + "/docs/appliance.md");
    int configs = 0;
    for (const auto& block : code_blocks(doc, "yaml")) {
        if (block.find("pods:") == std::string::npos) continue;  // fragments of a pod
        ++configs;
        EXPECT_NO_THROW(parse_config(block, "docs/appliance.md")) << block;
    }
    EXPECT_GE(configs, 1);
    // The canonical form shown is what to_json() writes for it.
    auto json_blocks = code_blocks(doc, "json");
    ASSERT_EQ(json_blocks.size(), 1u);
    json shown = json::parse(json_blocks[0]);
    EXPECT_EQ(to_json(parse_pod_spec(shown)), shown);
}

}  // namespace
}  // namespace kiln::daemon
