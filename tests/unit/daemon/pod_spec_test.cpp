// The pod schema, from JSON and from YAML: every rule, its error path and (from YAML) its line.
#include "core/daemon/pod_spec.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "core/sys/error.hpp"

namespace kiln::daemon {
namespace {

using nlohmann::json;

json minimal() { return json::parse(R"({"name": "web", "containers": [{"name": "app", "image": "busybox"}]})"); }

// A minimal pod with one change, given as a JSON Pointer and a value.
json with(const std::string& pointer, const json& value) {
    json j = minimal();
    j[json::json_pointer(pointer)] = value;
    return j;
}

std::string error_of(const json& j) {
    try {
        parse_pod_spec(j);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        return e.what();
    }
    return "<no error>";
}

std::string yaml_error_of(const std::string& text) {
    try {
        parse_pod_spec(YAML::Load(text));
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::invalid_argument);
        return e.what();
    }
    return "<no error>";
}

PodSpec from_yaml(const std::string& text) { return parse_pod_spec(YAML::Load(text)); }

#define EXPECT_ERROR(j, expected) EXPECT_EQ(error_of(j), expected)
#define EXPECT_ERROR_STARTS(j, prefix) EXPECT_TRUE(error_of(j).starts_with(prefix)) << error_of(j)

TEST(PodSpec, MinimalPodGetsDefaults) {
    PodSpec p = parse_pod_spec(minimal());
    EXPECT_EQ(p.name, "web");
    EXPECT_EQ(p.hostname, "web");
    ASSERT_EQ(p.containers.size(), 1u);
    EXPECT_EQ(p.containers[0].name, "app");
    EXPECT_EQ(p.containers[0].image, "busybox");
    EXPECT_TRUE(p.containers[0].command.empty());
    EXPECT_FALSE(p.containers[0].tty);
    EXPECT_FALSE(p.containers[0].resources.memory);
    EXPECT_EQ(p.restart_policy.kind, RestartPolicy::Kind::never);
    EXPECT_EQ(p.restart_policy.max_retries, 0);
    EXPECT_EQ(p.restart_policy.backoff_initial, 1.0);
    EXPECT_EQ(p.restart_policy.backoff_max, 300.0);
    EXPECT_EQ(p.stop_grace_period, 10.0);
    EXPECT_FALSE(p.share_pid);
    EXPECT_TRUE(p.networks.empty());
    EXPECT_TRUE(p.isolators.empty());
    EXPECT_TRUE(p.volumes.empty());
}

json full() {
    return json::parse(R"({
        "name": "shop",
        "hostname": "shop.example.org",
        "containers": [
            {"name": "web", "image": "localhost/kiln-busybox:latest",
             "command": ["httpd"], "args": ["-f", "-p", "8080"],
             "env": ["PORT=8080", "EMPTY="], "workingDir": "/srv", "user": "1000:1000",
             "tty": true, "stdin": true,
             "resources": {"cpus": 0.5, "memory": "32m", "pids": 64},
             "volumeMounts": [{"name": "data", "path": "/srv/data"},
                              {"name": "conf", "path": "/etc/shop", "readOnly": true}]},
            {"name": "worker", "image": "localhost/kiln-busybox:latest", "user": "nobody"}
        ],
        "volumes": [{"name": "data"}, {"name": "conf", "hostPath": "/etc/shop", "readOnly": true}],
        "restartPolicy": {"policy": "on-failure", "maxRetries": 5, "backoff": {"initial": "500ms", "max": "1m"}},
        "stopGracePeriod": "1m30s",
        "sharePid": true,
        "networks": ["front", "back"],
        "isolators": [{"name": "seccomp", "config": {"profile": "default"}}, {"name": "userns"}]
    })");
}

TEST(PodSpec, ReadsEveryField) {
    PodSpec p = parse_pod_spec(full());
    EXPECT_EQ(p.hostname, "shop.example.org");
    const ContainerSpec& web = p.containers.at(0);
    EXPECT_EQ(web.command, std::vector<std::string>{"httpd"});
    EXPECT_EQ(web.args, (std::vector<std::string>{"-f", "-p", "8080"}));
    EXPECT_EQ(web.env, (std::vector<std::string>{"PORT=8080", "EMPTY="}));
    EXPECT_EQ(web.working_dir, "/srv");
    EXPECT_EQ(web.user, "1000:1000");
    EXPECT_TRUE(web.tty);
    EXPECT_TRUE(web.stdin);
    EXPECT_EQ(web.resources.cpus, 0.5);
    EXPECT_EQ(web.resources.memory, 32 << 20);
    EXPECT_EQ(web.resources.pids, 64);
    ASSERT_EQ(web.volume_mounts.size(), 2u);
    EXPECT_EQ(web.volume_mounts[1], (VolumeMount{"conf", "/etc/shop", true}));
    EXPECT_FALSE(web.volume_mounts[0].read_only);
    EXPECT_EQ(p.containers.at(1).user, "nobody");
    ASSERT_EQ(p.volumes.size(), 2u);
    EXPECT_EQ(p.volumes[0].kind, Volume::Kind::named);
    EXPECT_EQ(p.volumes[1].kind, Volume::Kind::host);
    EXPECT_EQ(p.volumes[1].host_path, "/etc/shop");
    EXPECT_TRUE(p.volumes[1].read_only);
    EXPECT_EQ(p.restart_policy.kind, RestartPolicy::Kind::on_failure);
    EXPECT_EQ(p.restart_policy.max_retries, 5);
    EXPECT_EQ(p.restart_policy.backoff_initial, 0.5);
    EXPECT_EQ(p.restart_policy.backoff_max, 60.0);
    EXPECT_EQ(p.stop_grace_period, 90.0);
    EXPECT_TRUE(p.share_pid);
    EXPECT_EQ(p.networks, (std::vector<std::string>{"front", "back"}));
    ASSERT_EQ(p.isolators.size(), 2u);
    EXPECT_EQ(p.isolators[0].config, json({{"profile", "default"}}));
    EXPECT_EQ(p.isolators[1].config, json::object());
}

TEST(PodSpec, RoundTripsThroughCanonicalJson) {
    for (const json& j : {minimal(), full()}) {
        PodSpec p = parse_pod_spec(j);
        json canonical = to_json(p);
        PodSpec again = parse_pod_spec(canonical);
        EXPECT_EQ(again, p) << canonical.dump(2);
        EXPECT_EQ(to_json(again), canonical);
    }
    // Each restart policy's canonical form reads back, "never" and "always" included.
    for (const char* policy : {"never", "always"}) {
        PodSpec p = parse_pod_spec(with("/restartPolicy", policy));
        EXPECT_EQ(parse_pod_spec(to_json(p)), p) << policy;
    }
}

TEST(PodSpec, CanonicalFormUsesListsAndObjects) {
    json j = minimal();
    j["containers"][0]["env"] = {{"B", "2"}, {"A", "1"}};
    j["isolators"] = {{"seccomp", nullptr}};
    j["restartPolicy"] = "always";
    json c = to_json(parse_pod_spec(j));
    EXPECT_EQ(c["containers"][0]["env"], json({"A=1", "B=2"}));
    EXPECT_EQ(c["isolators"], json::parse(R"([{"name": "seccomp", "config": {}}])"));
    EXPECT_EQ(c["restartPolicy"], json::parse(R"({"policy": "always", "backoff": {"initial": 1.0, "max": 300.0}})"));
    EXPECT_EQ(c["hostname"], "web");
    EXPECT_EQ(c["stopGracePeriod"], 10.0);
}

TEST(PodSpec, NullIsTheSameAsAbsent) {
    json j = minimal();
    j["hostname"] = nullptr;
    j["volumes"] = nullptr;
    j["containers"][0]["env"] = nullptr;
    PodSpec p = parse_pod_spec(j);
    EXPECT_EQ(p.hostname, "web");
    EXPECT_TRUE(p.containers[0].env.empty());
    EXPECT_ERROR(with("/name", nullptr), "name: is required");
}

TEST(PodSpec, DnsLabels) {
    EXPECT_TRUE(is_dns_label("a"));
    EXPECT_TRUE(is_dns_label("web-1"));
    EXPECT_TRUE(is_dns_label("0day"));
    EXPECT_TRUE(is_dns_label(std::string(63, 'a')));
    EXPECT_FALSE(is_dns_label(std::string(64, 'a')));
    EXPECT_FALSE(is_dns_label(""));
    EXPECT_FALSE(is_dns_label("Web"));
    EXPECT_FALSE(is_dns_label("-web"));
    EXPECT_FALSE(is_dns_label("web-"));
    EXPECT_FALSE(is_dns_label("web_1"));
    EXPECT_FALSE(is_dns_label("web.1"));
}

TEST(PodSpec, PodName) {
    EXPECT_ERROR(json::parse(R"({"containers": [{"name": "a", "image": "b"}]})"), "name: is required");
    EXPECT_ERROR(with("/name", "Web"),
                 R"(name: "Web" is not a DNS label (lowercase letters, digits and '-', at most 63))");
    EXPECT_ERROR(with("/name", 7), "name: expected a string, got an integer");
}

TEST(PodSpec, Hostname) {
    EXPECT_EQ(parse_pod_spec(with("/hostname", "Box-1.Local")).hostname, "Box-1.Local");
    EXPECT_ERROR_STARTS(with("/hostname", "bad_host"), R"(hostname: "bad_host" is not a hostname)");
    EXPECT_ERROR_STARTS(with("/hostname", "a..b"), R"(hostname: "a..b" is not a hostname)");
    // 64 characters in all, sethostname()'s limit, whatever the labels.
    EXPECT_NO_THROW(parse_pod_spec(with("/hostname", std::string(31, 'a') + "." + std::string(32, 'b'))));
    EXPECT_ERROR_STARTS(with("/hostname", std::string(31, 'a') + "." + std::string(33, 'b')), "hostname: ");
    EXPECT_ERROR_STARTS(with("/hostname", std::string(64, 'a')), "hostname: ");
    EXPECT_ERROR_STARTS(with("/hostname", ""), "hostname: ");
}

TEST(PodSpec, Containers) {
    EXPECT_ERROR(json::parse(R"({"name": "a"})"), "containers: is required");
    EXPECT_ERROR(with("/containers", json::array()), "containers: must list at least one container");
    EXPECT_ERROR(with("/containers", json::object()), "containers: expected an array, got an object");
    EXPECT_ERROR(with("/containers/0", "busybox"), "containers[0]: expected an object, got a string");
    EXPECT_ERROR(with("/containers/0/name", nullptr), "containers[0].name: is required");
    EXPECT_ERROR(with("/containers/1", json({{"name", "Web"}, {"image", "x"}})),
                 R"(containers[1].name: "Web" is not a DNS label (lowercase letters, digits and '-', at most 63))");
    EXPECT_ERROR(with("/containers/1", json({{"name", "app"}, {"image", "x"}})),
                 R"(containers[1].name: "app" is already the name of containers[0])");
    EXPECT_ERROR(with("/containers/0/image", nullptr), "containers[0].image: is required");
    EXPECT_ERROR(with("/containers/0/image", ""), "containers[0].image: must not be empty");
}

TEST(PodSpec, CommandAndArgs) {
    EXPECT_ERROR(with("/containers/0/command", "sh -c x"), "containers[0].command: expected an array of strings, got a string");
    EXPECT_ERROR(with("/containers/0/args", json({"a", 1})), "containers[0].args[1]: expected a string, got an integer");
}

TEST(PodSpec, Env) {
    EXPECT_ERROR(with("/containers/0/env", json({"A=1", "B"})), R"(containers[0].env[1]: "B" is not KEY=VALUE)");
    EXPECT_ERROR(with("/containers/0/env", json({"1A=x"})),
                 R"(containers[0].env[0]: "1A" is not a variable name (letters, digits and '_', not starting with a digit))");
    EXPECT_ERROR_STARTS(with("/containers/0/env", json({"=x"})), R"(containers[0].env[0]: "" is not a variable name)");
    EXPECT_ERROR_STARTS(with("/containers/0/env", json({"A-B=x"})), R"(containers[0].env[0]: "A-B" is not)");
    EXPECT_ERROR(with("/containers/0/env", json({"A=1", "A=2"})), R"(containers[0].env[1]: "A" is already set by containers[0].env[0])");
    EXPECT_ERROR(with("/containers/0/env", 5), R"(containers[0].env: expected an array of "KEY=VALUE" strings or an object, got an integer)");
    // "K=V=W": the value keeps its '='.
    EXPECT_EQ(parse_pod_spec(with("/containers/0/env", json({"A=b=c"}))).containers[0].env[0], "A=b=c");
}

TEST(PodSpec, EnvAsObject) {
    PodSpec p = parse_pod_spec(with("/containers/0/env", json({{"B", "x y"}, {"A", 1}, {"C", true}, {"D", 1.5}})));
    EXPECT_EQ(p.containers[0].env, (std::vector<std::string>{"A=1", "B=x y", "C=true", "D=1.5"}));
    EXPECT_ERROR(with("/containers/0/env", json({{"A", json::array()}})),
                 "containers[0].env.A: expected a string, number or boolean, got an array");
    EXPECT_ERROR_STARTS(with("/containers/0/env", json({{"A.B", "x"}})), R"(containers[0].env["A.B"]: "A.B" is not a variable name)");
}

TEST(PodSpec, EnvObjectFromYamlKeepsTheWrittenText) {
    PodSpec p = from_yaml(R"(
name: web
containers:
  - name: app
    image: busybox
    env:
      VERSION: 1.10
      MODE: 0755
      DEBUG: TRUE
      QUOTED: "007"
)");
    EXPECT_EQ(p.containers[0].env,
              (std::vector<std::string>{"DEBUG=TRUE", "MODE=0755", "QUOTED=007", "VERSION=1.10"}));
}

TEST(PodSpec, WorkingDirAndUser) {
    EXPECT_ERROR(with("/containers/0/workingDir", "srv"), R"(containers[0].workingDir: "srv" is not an absolute path)");
    EXPECT_ERROR(with("/containers/0/workingDir", ""), R"(containers[0].workingDir: "" is not an absolute path)");
    EXPECT_EQ(parse_pod_spec(with("/containers/0/user", 1000)).containers[0].user, "1000");
    EXPECT_EQ(parse_pod_spec(with("/containers/0/user", "www:www")).containers[0].user, "www:www");
    EXPECT_ERROR(with("/containers/0/user", -1), "containers[0].user: -1 is below the minimum of 0");
    EXPECT_ERROR(with("/containers/0/user", "a:b:c"), R"(containers[0].user: "a:b:c" is not "user" or "user:group")");
    EXPECT_ERROR(with("/containers/0/user", ":b"), R"(containers[0].user: ":b" is not "user" or "user:group")");
    EXPECT_ERROR_STARTS(with("/containers/0/user", true), "containers[0].user: expected a string");
}

TEST(PodSpec, TtyAndStdinAreBooleans) {
    EXPECT_ERROR(with("/containers/0/tty", "yes"), "containers[0].tty: expected a boolean (true or false), got a string");
    EXPECT_ERROR(with("/containers/0/stdin", 1), "containers[0].stdin: expected a boolean (true or false), got an integer");
}

TEST(PodSpec, Cpus) {
    auto cpus = [](const json& v) { return parse_pod_spec(with("/containers/0/resources/cpus", v)).containers[0].resources.cpus; };
    EXPECT_EQ(cpus(2), 2.0);
    EXPECT_EQ(cpus(0.25), 0.25);
    EXPECT_EQ(cpus("0.5"), 0.5);
    EXPECT_ERROR(with("/containers/0/resources/cpus", 0), "containers[0].resources.cpus: must be more than 0");
    EXPECT_ERROR(with("/containers/0/resources/cpus", -1.5), "containers[0].resources.cpus: must be more than 0");
    EXPECT_ERROR(with("/containers/0/resources/cpus", "half"), R"(containers[0].resources.cpus: "half" is not a number of CPUs)");
    EXPECT_ERROR(with("/containers/0/resources/cpus", "0.5 "), R"(containers[0].resources.cpus: "0.5 " is not a number of CPUs)");
    EXPECT_ERROR_STARTS(with("/containers/0/resources/cpus", true), "containers[0].resources.cpus: expected a number");
}

TEST(PodSpec, MemorySizes) {
    auto memory = [](const json& v) {
        return *parse_pod_spec(with("/containers/0/resources/memory", v)).containers[0].resources.memory;
    };
    EXPECT_EQ(memory(33554432), 33554432);
    EXPECT_EQ(memory("32m"), 32 << 20);
    EXPECT_EQ(memory("32M"), 32 << 20);
    EXPECT_EQ(memory("32MiB"), 32 << 20);
    EXPECT_EQ(memory("32mb"), 32 << 20);
    EXPECT_EQ(memory("4096k"), 4096 << 10);
    EXPECT_EQ(memory("1g"), 1 << 30);
    EXPECT_EQ(memory("2G"), std::int64_t{2} << 30);
    EXPECT_EQ(memory("1.5g"), std::int64_t{3} << 29);
    EXPECT_EQ(memory("8388608b"), 8 << 20);
    EXPECT_EQ(memory("8388608"), 8 << 20);
    EXPECT_EQ(memory("4m"), 4 << 20);
    EXPECT_ERROR(with("/containers/0/resources/memory", "3m"),
                 R"(containers[0].resources.memory: 3145728 bytes is below the minimum of 4 MiB ("4m"))");
    EXPECT_ERROR(with("/containers/0/resources/memory", 1000),
                 R"(containers[0].resources.memory: 1000 bytes is below the minimum of 4 MiB ("4m"))");
    EXPECT_ERROR(with("/containers/0/resources/memory", -1),
                 "containers[0].resources.memory: -1 is below the minimum of 0");
    for (const char* bad : {"32x", "m", "32 m", "-32m", "32mm", "", "0x20m"})
        EXPECT_ERROR(with("/containers/0/resources/memory", bad),
                     "containers[0].resources.memory: " + json(bad).dump() +
                         R"( is not a size: use bytes (33554432) or a string like "32m" (suffixes b, k, m, g: powers of 1024))");
    EXPECT_ERROR(with("/containers/0/resources/memory", "99999999999g"), R"(containers[0].resources.memory: "99999999999g" is too large)");
    EXPECT_ERROR(with("/containers/0/resources/memory", 3.5e7),
                 R"(containers[0].resources.memory: expected a whole number of bytes or a size string like "32m", got a fractional number)");
}

TEST(PodSpec, Pids) {
    EXPECT_EQ(parse_pod_spec(with("/containers/0/resources/pids", 1)).containers[0].resources.pids, 1);
    EXPECT_ERROR(with("/containers/0/resources/pids", 0), "containers[0].resources.pids: 0 is below the minimum of 1");
    // Parsed JSON and YAML hold non-negative numbers as unsigned: the minimum applies to them too.
    EXPECT_ERROR(with("/containers/0/resources/pids", json::parse("0")), "containers[0].resources.pids: 0 is below the minimum of 1");
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: a\n    image: b\n    resources: {pids: 0}\n"),
              "containers[0].resources.pids: 0 is below the minimum of 1 (line 5)");
    EXPECT_ERROR(with("/containers/0/resources/pids", "10"), "containers[0].resources.pids: expected an integer, got a string");
}

TEST(PodSpec, UnknownFieldsAreErrors) {
    EXPECT_ERROR_STARTS(with("/nmae", "x"), "nmae: unknown field (known here: name, hostname, containers,");
    EXPECT_ERROR_STARTS(with("/containers/0/imge", "x"), "containers[0].imge: unknown field (known here: name, image,");
    EXPECT_ERROR(with("/containers/0/resources/swap", 1), "containers[0].resources.swap: unknown field (known here: cpus, memory, pids)");
    EXPECT_ERROR_STARTS(with("/restartPolicy", json({{"policy", "always"}, {"retries", 1}})), "restartPolicy.retries: unknown field");
    EXPECT_ERROR_STARTS(with("/volumes", json::parse(R"([{"name": "a", "type": "tmpfs"}])")), "volumes[0].type: unknown field");
    EXPECT_ERROR_STARTS(with("/isolators", json::parse(R"([{"name": "a", "cfg": {}}])")), "isolators[0].cfg: unknown field");
    // A misspelt field is reported as such, not as the missing one it was meant to be.
    json j = minimal();
    j["containers"][0].erase("image");
    j["containers"][0]["imgae"] = "busybox";
    EXPECT_ERROR_STARTS(j, "containers[0].imgae: unknown field");
    EXPECT_ERROR_STARTS(with("/a b", 1), R"(["a b"]: unknown field)");
}

TEST(PodSpec, NotAnObject) {
    EXPECT_ERROR(json::array(), "expected an object, got an array");
    EXPECT_ERROR(json("pod"), "expected an object, got a string");
}

json with_volumes(const json& volumes, const json& mounts) {
    json j = minimal();
    j["volumes"] = volumes;
    j["containers"][0]["volumeMounts"] = mounts;
    return j;
}

TEST(PodSpec, Volumes) {
    EXPECT_ERROR(with("/volumes", json::parse(R"([{"name": "Data"}])")),
                 R"(volumes[0].name: "Data" is not a DNS label (lowercase letters, digits and '-', at most 63))");
    EXPECT_ERROR(with("/volumes", json::parse(R"([{"hostPath": "/x"}])")), "volumes[0].name: is required");
    EXPECT_ERROR(with("/volumes", json::parse(R"([{"name": "a"}, {"name": "a"}])")),
                 R"(volumes[1].name: "a" is already the name of volumes[0])");
    EXPECT_ERROR(with("/volumes", json::parse(R"([{"name": "a", "hostPath": "data"}])")),
                 R"(volumes[0].hostPath: "data" is not an absolute path)");
    EXPECT_ERROR(with("/volumes", json::parse(R"([{"name": "a", "readOnly": true}])")),
                 "volumes[0].readOnly: only a hostPath volume can be read-only (a mount can: volumeMounts[].readOnly)");
    EXPECT_ERROR(with("/volumes", json::parse(R"([{"name": "a", "hostPath": "/x", "readOnly": "no"}])")),
                 "volumes[0].readOnly: expected a boolean (true or false), got a string");
    EXPECT_ERROR(with("/volumes", json::parse(R"({"a": {}})")), "volumes: expected an array, got an object");
    // readOnly: false on a named volume says nothing wrong.
    EXPECT_NO_THROW(parse_pod_spec(with("/volumes", json::parse(R"([{"name": "a", "readOnly": false}])"))));
}

TEST(PodSpec, VolumeMounts) {
    json vols = json::parse(R"([{"name": "data"}, {"name": "logs"}])");
    EXPECT_ERROR(with_volumes(vols, json::parse(R"([{"name": "cache", "path": "/cache"}])")),
                 R"(containers[0].volumeMounts[0].name: no volume "cache" in the pod's volumes)");
    EXPECT_ERROR(with("/containers/0/volumeMounts", json::parse(R"([{"name": "cache", "path": "/cache"}])")),
                 R"(containers[0].volumeMounts[0].name: no volume "cache" in the pod's volumes)");
    EXPECT_ERROR(with_volumes(vols, json::parse(R"([{"name": "data", "path": "data"}])")),
                 R"(containers[0].volumeMounts[0].path: "data" is not an absolute path)");
    EXPECT_ERROR(with_volumes(vols, json::parse(R"([{"name": "data"}])")), "containers[0].volumeMounts[0].path: is required");
    EXPECT_ERROR(with_volumes(vols, json::parse(R"([{"name": "data", "path": "/"}])")),
                 "containers[0].volumeMounts[0].path: a volume cannot be mounted over the container's /");
    EXPECT_ERROR(with_volumes(vols, json::parse(R"([{"name": "data", "path": "/d"}, {"name": "logs", "path": "//d/./"}])")),
                 R"(containers[0].volumeMounts[1].path: "//d/./" is already mounted by volumeMounts[0])");
    EXPECT_ERROR(with_volumes(vols, json::parse(R"([{"name": "data", "path": "/d", "readOnly": 1}])")),
                 "containers[0].volumeMounts[0].readOnly: expected a boolean (true or false), got an integer");
    // The same volume at two paths, and the same path in two containers, are fine.
    json j = with_volumes(vols, json::parse(R"([{"name": "data", "path": "/a"}, {"name": "data", "path": "/b"}])"));
    j["containers"][1] = {{"name", "two"}, {"image", "x"}, {"volumeMounts", {{{"name", "data"}, {"path", "/a"}}}}};
    EXPECT_NO_THROW(parse_pod_spec(j));
}

TEST(PodSpec, RestartPolicy) {
    EXPECT_EQ(parse_pod_spec(with("/restartPolicy", "on-failure")).restart_policy.kind, RestartPolicy::Kind::on_failure);
    EXPECT_EQ(parse_pod_spec(with("/restartPolicy", "always")).restart_policy.kind, RestartPolicy::Kind::always);
    EXPECT_EQ(parse_pod_spec(with("/restartPolicy", "never")).restart_policy.kind, RestartPolicy::Kind::never);
    EXPECT_ERROR(with("/restartPolicy", "sometimes"), R"(restartPolicy: "sometimes" is not one of "never", "on-failure", "always")");
    EXPECT_ERROR(with("/restartPolicy", 3), R"(restartPolicy: expected a string ("never", "on-failure", "always") or an object, got an integer)");
    EXPECT_ERROR(with("/restartPolicy", json::object()), "restartPolicy.policy: is required");
    EXPECT_ERROR(with("/restartPolicy", json({{"policy", "OnFailure"}})),
                 R"(restartPolicy.policy: "OnFailure" is not one of "never", "on-failure", "always")");

    auto policy = [](const char* text) { return parse_pod_spec(with("/restartPolicy", json::parse(text))).restart_policy; };
    RestartPolicy p = policy(R"({"policy": "always", "backoff": {"initial": 2, "max": "10m"}})");
    EXPECT_EQ(p.backoff_initial, 2.0);
    EXPECT_EQ(p.backoff_max, 600.0);
    EXPECT_EQ(policy(R"({"policy": "on-failure", "maxRetries": 0})").max_retries, 0);
    EXPECT_EQ(policy(R"({"policy": "always", "backoff": {"max": 1}})").backoff_initial, 1.0);

    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "on-failure", "maxRetries": -1})")),
                 "restartPolicy.maxRetries: -1 is below the minimum of 0");
    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "on-failure", "maxRetries": 1.5})")),
                 "restartPolicy.maxRetries: expected an integer, got a fractional number");
    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "always", "maxRetries": 3})")),
                 R"(restartPolicy.maxRetries: applies to the "on-failure" policy only)");
    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "never", "backoff": {"initial": 1}})")),
                 R"(restartPolicy.backoff: does not apply to the "never" policy)");
    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "always", "backoff": {"initial": 0}})")),
                 "restartPolicy.backoff.initial: must be more than 0");
    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "always", "backoff": {"initial": 10, "max": 5}})")),
                 "restartPolicy.backoff.max: 5s is below backoff.initial (10s)");
    EXPECT_ERROR(with("/restartPolicy", json::parse(R"({"policy": "always", "backoff": {"initial": "10m"}})")),
                 "restartPolicy.backoff.initial: 600s is above backoff.max (300s, the default)");
    EXPECT_ERROR_STARTS(with("/restartPolicy", json::parse(R"({"policy": "always", "backoff": {"initial": 1, "step": 2}})")),
                        "restartPolicy.backoff.step: unknown field");
}

TEST(PodSpec, StopGracePeriodDurations) {
    auto grace = [](const json& v) { return parse_pod_spec(with("/stopGracePeriod", v)).stop_grace_period; };
    EXPECT_EQ(grace(0), 0.0);
    EXPECT_EQ(grace(2.5), 2.5);
    EXPECT_EQ(grace("10s"), 10.0);
    EXPECT_EQ(grace("1m"), 60.0);
    EXPECT_EQ(grace("500ms"), 0.5);
    EXPECT_EQ(grace("1h"), 3600.0);
    EXPECT_EQ(grace("1m30s"), 90.0);
    EXPECT_EQ(grace("1.5s"), 1.5);
    EXPECT_EQ(grace("15"), 15.0);
    EXPECT_ERROR(with("/stopGracePeriod", -1), "stopGracePeriod: must not be negative");
    for (const char* bad : {"10x", "s", "-5s", "10 s", "", "1m30", "10S", "5d"})
        EXPECT_ERROR(with("/stopGracePeriod", bad),
                     "stopGracePeriod: " + json(bad).dump() +
                         R"( is not a duration: use seconds (10) or a string like "10s", "1m30s", "500ms")");
    EXPECT_ERROR(with("/stopGracePeriod", true),
                 R"(stopGracePeriod: expected seconds or a duration string like "10s", got a boolean)");
}

TEST(PodSpec, SharePid) {
    EXPECT_TRUE(parse_pod_spec(with("/sharePid", true)).share_pid);
    EXPECT_ERROR(with("/sharePid", "true"), "sharePid: expected a boolean (true or false), got a string");
}

TEST(PodSpec, Networks) {
    EXPECT_EQ(parse_pod_spec(with("/networks", json({"none"}))).networks, std::vector<std::string>{"none"});
    EXPECT_EQ(parse_pod_spec(with("/networks", json({"host"}))).networks, std::vector<std::string>{"host"});
    EXPECT_EQ(parse_pod_spec(with("/networks", json::array())).networks, std::vector<std::string>{});
    EXPECT_ERROR(with("/networks", json({"front", "host"})), R"(networks[1]: "host" must be the pod's only network)");
    EXPECT_ERROR(with("/networks", json({"none", "front"})), R"(networks[0]: "none" must be the pod's only network)");
    EXPECT_ERROR_STARTS(with("/networks", json({"Front"})), R"(networks[0]: "Front" is not "none", "host" or a network name)");
    EXPECT_ERROR(with("/networks", json({"a", "a"})), R"(networks[1]: "a" is already listed at networks[0])");
    EXPECT_ERROR(with("/networks", "host"), "networks: expected an array of strings, got a string");
}

TEST(PodSpec, Isolators) {
    PodSpec p = parse_pod_spec(with("/isolators", json::parse(R"({"userns": {"size": 65536}, "seccomp": null})")));
    ASSERT_EQ(p.isolators.size(), 2u);
    EXPECT_EQ(p.isolators[0].name, "seccomp");  // the object form goes in name order
    EXPECT_EQ(p.isolators[0].config, json::object());
    EXPECT_EQ(p.isolators[1].name, "userns");
    EXPECT_EQ(p.isolators[1].config, json({{"size", 65536}}));
    // The list form keeps its order.
    p = parse_pod_spec(with("/isolators", json::parse(R"([{"name": "userns"}, {"name": "seccomp"}])")));
    EXPECT_EQ(p.isolators[0].name, "userns");

    EXPECT_ERROR(with("/isolators", json::parse(R"([{"config": {}}])")), "isolators[0].name: is required");
    EXPECT_ERROR(with("/isolators", json::parse(R"([{"name": ""}])")), "isolators[0].name: must not be empty");
    EXPECT_ERROR(with("/isolators", json::parse(R"([{"name": "a", "config": [1]}])")),
                 "isolators[0].config: expected an object, got an array");
    EXPECT_ERROR(with("/isolators", json::parse(R"({"a": 5})")), "isolators.a: expected an object, got an integer");
    EXPECT_ERROR(with("/isolators", json::parse(R"([{"name": "a"}, {"name": "a"}])")),
                 R"(isolators[1].name: "a" is already listed at isolators[0])");
    EXPECT_ERROR(with("/isolators", "seccomp"),
                 "isolators: expected an array of {name, config} or an object {name: config}, got a string");
}

// YAML: the same schema, with the line of the offending field.

TEST(PodSpecYaml, ReadsThePodTheJsonWouldBe) {
    PodSpec p = from_yaml(R"(
name: shop
hostname: shop.example.org
containers:
  - name: web
    image: localhost/kiln-busybox:latest
    command: [httpd]
    args: ["-f", "-p", "8080"]
    env: [PORT=8080, EMPTY=]
    workingDir: /srv
    user: "1000:1000"
    tty: true
    stdin: true
    resources: {cpus: 0.5, memory: 32m, pids: 64}
    volumeMounts:
      - {name: data, path: /srv/data}
      - {name: conf, path: /etc/shop, readOnly: true}
  - name: worker
    image: localhost/kiln-busybox:latest
    user: nobody
volumes:
  - name: data
  - {name: conf, hostPath: /etc/shop, readOnly: true}
restartPolicy:
  policy: on-failure
  maxRetries: 5
  backoff: {initial: 500ms, max: 1m}
stopGracePeriod: 1m30s
sharePid: true
networks: [front, back]
isolators:
  - name: seccomp
    config: {profile: default}
  - name: userns
)");
    EXPECT_EQ(p, parse_pod_spec(full()));
}

TEST(PodSpecYaml, ErrorsEndWithTheLine) {
    EXPECT_EQ(yaml_error_of(R"(name: web
containers:
  - name: app
    image: busybox
  - name: Web
    image: busybox
)"),
              R"(containers[1].name: "Web" is not a DNS label (lowercase letters, digits and '-', at most 63) (line 5))");
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: app\n    image: busybox\n    resources:\n      memory: 32q\n"),
              R"(containers[0].resources.memory: "32q" is not a size: use bytes (33554432) or a string like "32m" )"
              R"((suffixes b, k, m, g: powers of 1024) (line 6))");
}

TEST(PodSpecYaml, MissingFieldIsReportedAtItsObject) {
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: app\n\n  - name: two\n    tty: false\n"),
              "containers[0].image: is required (line 3)");
    EXPECT_EQ(yaml_error_of("\n\nname: web\n"), "containers: is required (line 3)");
}

TEST(PodSpecYaml, UnknownKeyNamesItsLine) {
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: app\n    image: busybox\n    imagePullPolicy: never\n")
                  .substr(0, 46),
              "containers[0].imagePullPolicy: unknown field (");
    EXPECT_TRUE(yaml_error_of("name: web\ncontainers:\n  - name: app\n    image: busybox\n    imagePullPolicy: never\n")
                    .ends_with("(line 5)"));
}

TEST(PodSpecYaml, WrongTypesNameTheExpectedType) {
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: app\n    image: busybox\n    tty: yes\n"),
              "containers[0].tty: expected a boolean (true or false), got a string (line 5)");
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: app\n    image: busybox\n    command: true\n"),
              "containers[0].command: expected an array of strings, got a boolean (line 5)");
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  name: app\n"),
              "containers: expected an array, got an object (line 2)");
    EXPECT_EQ(yaml_error_of("name: 12\ncontainers: []\n"), "name: expected a string, got an integer (line 1)");
    EXPECT_EQ(yaml_error_of("name: \"12\"\ncontainers: []\n"), "containers: must list at least one container (line 2)");
}

TEST(PodSpecYaml, ScalarsFollowTheYamlCoreSchema) {
    // Quoted scalars are strings; plain ones are typed.
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - {name: app, image: busybox, tty: \"true\"}\n"),
              "containers[0].tty: expected a boolean (true or false), got a string (line 3)");
    PodSpec p = from_yaml("name: web\nsharePid: True\nstopGracePeriod: 0x10\ncontainers:\n  - {name: app, image: busybox, user: 0o17}\n");
    EXPECT_TRUE(p.share_pid);
    EXPECT_EQ(p.stop_grace_period, 16.0);
    EXPECT_EQ(p.containers[0].user, "15");
    EXPECT_EQ(from_yaml("name: web\nstopGracePeriod: 2.5e1\ncontainers: [{name: a, image: b}]\n").stop_grace_period, 25.0);
    // Integers beyond 64 bits stay text rather than losing digits.
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - {name: a, image: b, resources: {pids: 99999999999999999999}}\n"),
              "containers[0].resources.pids: expected an integer, got a string (line 3)");
    EXPECT_EQ(from_yaml("name: web\ncontainers: [{name: a, image: b, args: [\"99999999999999999999\"]}]\n").containers[0].args[0],
              "99999999999999999999");
    // ~ and an empty value are null: the default.
    EXPECT_EQ(from_yaml("name: web\nhostname: ~\nvolumes:\ncontainers: [{name: a, image: b}]\n").hostname, "web");
    // YAML 1.1's yes/no/on/off are strings.
    EXPECT_EQ(from_yaml("name: web\ncontainers: [{name: a, image: b, args: [yes, off, .inf, 1e]}]\n").containers[0].args,
              (std::vector<std::string>{"yes", "off", ".inf", "1e"}));
    EXPECT_EQ(yaml_error_of("name: web\ncontainers: [{name: a, image: b, args: [yes, 1]}]\n"),
              "containers[0].args[1]: expected a string, got an integer (line 2)");
}

TEST(PodSpecYaml, DuplicateKeysAreErrors) {
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: a\n    image: b\n    name: c\n"),
              "containers[0].name: duplicate key (line 5)");
}

TEST(PodSpecYaml, NonScalarKeysAreErrors) {
    EXPECT_EQ(yaml_error_of("name: web\n? [a, b]\n: c\n"),
              "a map key must be a string, not a list, map or null (line 2)");
}

TEST(PodSpecYaml, QuotedKeysKeepTheirLines) {
    EXPECT_EQ(yaml_error_of("name: web\ncontainers:\n  - name: app\n    image: busybox\n    env:\n      A.B: x\n"),
              R"(containers[0].env["A.B"]: "A.B" is not a variable name (letters, digits and '_', not starting with a digit) (line 6))");
}

TEST(PodSpecYaml, AliasesAreFollowed) {
    PodSpec p = from_yaml(R"(
name: web
containers:
  - &base {name: a, image: busybox, env: [X=1]}
  - {name: b, image: busybox}
volumes: []
)");
    EXPECT_EQ(p.containers[0].env, std::vector<std::string>{"X=1"});
}

TEST(PodSpecYaml, AliasCyclesAndExpansionsAreBounded) {
    EXPECT_TRUE(yaml_error_of("name: web\ncontainers: &x [*x]\n").find("nested deeper than 64 levels (line 2)") !=
                std::string::npos);
    // Ten levels of ten aliases each: 10^10 values if expanded.
    std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 10; ++i) {
        std::string prev = "*l" + std::to_string(i - 1);
        text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
        for (int j = 0; j < 10; ++j) text += (j ? ", " : "") + prev;
        text += "]\n";
    }
    EXPECT_TRUE(yaml_error_of(text).find("more than 100000 values") != std::string::npos) << yaml_error_of(text);
}

}  // namespace
}  // namespace kiln::daemon
