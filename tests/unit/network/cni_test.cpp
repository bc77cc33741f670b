// The cni plugin's CNI logic (network/cni/cni.hpp): conflists read and refused by field, each
// plugin's stdin, the chain's order and prevResult, DEL after a failed ADD, CNI errors read back,
// results as kilnd shows them. A fake Runner stands for the binaries.
#include <gtest/gtest.h>

#include <fstream>

#include "network/cni/cni.hpp"
#include "tests/unit/temp_dir.hpp"

namespace kiln::cni {
namespace {

json bridge_and_portmap() {
    return json::parse(R"({"cniVersion": "1.0.0", "plugins": [
        {"type": "bridge", "bridge": "kiln0", "ipam": {"type": "host-local"}},
        {"type": "portmap", "capabilities": {"portMappings": true}}]})");
}

std::string error_of(const json& config) {
    try {
        read_conflist(config, "net");
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

TEST(Cni, ConflistsAreReadAndNamedByTheNetwork) {
    json list = read_conflist(bridge_and_portmap(), "default");
    EXPECT_EQ(list["name"], "default");
    EXPECT_EQ(list["plugins"].size(), 2u);
    // A single-plugin conf becomes a list of one.
    json conf = read_conflist(json::parse(R"({"cniVersion": "0.4.0", "name": "x", "type": "ptp"})"), "net");
    EXPECT_EQ(conf["name"], "x");
    EXPECT_EQ(conf["plugins"][0]["type"], "ptp");
    EXPECT_FALSE(conf["plugins"][0].contains("name"));
}

TEST(Cni, BadConflistsNameTheField) {
    EXPECT_EQ(error_of(json::array()), "config: must be a map (a CNI conflist)");
    EXPECT_EQ(error_of(json::parse(R"({"cniVersion": "1.0.0"})")), "config: has neither plugins (a conflist) nor type (a conf)");
    EXPECT_EQ(error_of(json::parse(R"({"plugins": [{"type": "bridge"}]})")),
              "config.cniVersion: must be a version string such as \"1.0.0\"");
    EXPECT_EQ(error_of(json::parse(R"({"cniVersion": "1.0.0", "plugins": []})")), "config.plugins: must list at least one plugin");
    EXPECT_EQ(error_of(json::parse(R"({"cniVersion": "1.0.0", "plugins": [{"bridge": "x"}]})")),
              "config.plugins[0].type: is required (the CNI plugin's binary name)");
    EXPECT_EQ(error_of(json::parse(R"({"cniVersion": "1.0.0", "plugins": [{"type": "../bin/sh"}]})")),
              "config.plugins[0].type: \"../bin/sh\" is not a binary name");
    EXPECT_EQ(error_of(json::parse(R"({"cniVersion": "1.0.0", "name": "a b", "plugins": [{"type": "x"}]})")),
              "config.name: \"a b\" is not a CNI network name (letters, digits, _ . -)");
}

TEST(Cni, EachPluginGetsNameVersionCapabilitiesAndPrevResult) {
    json list = read_conflist(bridge_and_portmap(), "default");
    Attachment a{"web", "/run/kiln/netns/web", "eth0", json::parse(R"([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])")};
    json first = plugin_config(list, 0, a, nullptr);
    EXPECT_EQ(first["name"], "default");
    EXPECT_EQ(first["cniVersion"], "1.0.0");
    EXPECT_FALSE(first.contains("runtimeConfig"));  // the bridge asks for no capability
    EXPECT_FALSE(first.contains("prevResult"));
    json prev = {{"ips", {{{"address", "10.88.0.2/16"}}}}};
    json second = plugin_config(list, 1, a, &prev);
    EXPECT_EQ(second["runtimeConfig"]["portMappings"], a.port_mappings);
    EXPECT_EQ(second["prevResult"], prev);
    EXPECT_FALSE(second.contains("capabilities"));
}

TEST(Cni, AddRunsTheChainAndAFailureIsDeletedAgain) {
    json list = read_conflist(bridge_and_portmap(), "default");
    std::vector<std::string> calls;
    json seen_prev;
    auto run = [&](const std::string& cmd, const std::string& type, const std::string& input) {
        calls.push_back(cmd + " " + type);
        json in = json::parse(input);
        if (type == "portmap" && cmd == "ADD") seen_prev = in["prevResult"];
        if (type == "bridge" && cmd == "ADD") return RunResult{0, R"({"cniVersion":"1.0.0","ips":[{"address":"10.88.0.2/16"}]})", ""};
        if (type == "portmap" && cmd == "ADD") return RunResult{0, in["prevResult"].dump(), ""};
        return RunResult{0, "", ""};
    };
    Attachment a{"web", "/n", "eth0", json::array()};
    json result = add(list, a, run);
    EXPECT_EQ(result["ips"][0]["address"], "10.88.0.2/16");
    EXPECT_EQ(seen_prev["ips"][0]["address"], "10.88.0.2/16");
    EXPECT_EQ(calls, (std::vector<std::string>{"ADD bridge", "ADD portmap"}));

    calls.clear();
    auto failing = [&](const std::string& cmd, const std::string& type, const std::string& input) {
        if (type == "portmap" && cmd == "ADD") {
            calls.push_back(cmd + " " + type);
            return RunResult{1, R"({"cniVersion":"1.0.0","code":11,"msg":"port 8080 is taken","details":"iptables"})", ""};
        }
        return run(cmd, type, input);
    };
    try {
        add(list, a, failing);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), 11);
        EXPECT_STREQ(e.what(), "CNI error 11: portmap: port 8080 is taken (iptables)");
    }
    EXPECT_EQ(calls, (std::vector<std::string>{"ADD bridge", "ADD portmap", "DEL portmap", "DEL bridge"}));
}

TEST(Cni, DelAsksEveryPluginAndReportsTheFirstError) {
    json list = read_conflist(bridge_and_portmap(), "default");
    std::vector<std::string> calls;
    auto run = [&](const std::string& cmd, const std::string& type, const std::string&) {
        calls.push_back(cmd + " " + type);
        if (type == "portmap") return RunResult{2, "", "iptables: no chain"};
        return RunResult{0, "", ""};
    };
    try {
        del(list, Attachment{"web", "/n", "eth0", json::array()}, nullptr, run);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "CNI error 999: portmap: DEL exited with 2: iptables: no chain");
    }
    EXPECT_EQ(calls, (std::vector<std::string>{"DEL portmap", "DEL bridge"}));
}

TEST(Cni, CheckAndGcFollowTheVersion) {
    int calls = 0;
    auto run = [&](const std::string&, const std::string&, const std::string&) {
        ++calls;
        return RunResult{0, "", ""};
    };
    json old = read_conflist(json::parse(R"({"cniVersion": "0.3.1", "plugins": [{"type": "bridge"}]})"), "n");
    check(old, Attachment{}, json::object(), run);
    EXPECT_EQ(calls, 0);  // no CHECK before 0.4.0
    EXPECT_FALSE(gc(read_conflist(bridge_and_portmap(), "n"), json::array(), run));  // no GC before 1.1.0
    json modern = read_conflist(json::parse(R"({"cniVersion": "1.1.0", "plugins": [{"type": "bridge"}]})"), "n");
    EXPECT_TRUE(gc(modern, json::array(), run));
    check(modern, Attachment{}, json::object(), run);
    EXPECT_EQ(calls, 2);
    EXPECT_EQ(compare_versions("1.0.0", "1.1.0"), -1);
    EXPECT_EQ(compare_versions("0.10.0", "0.4.0"), 1);
}

TEST(Cni, ResultsAreShownAsKilndShowsThem) {
    json status = to_status(json::parse(R"({"cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": "aa:bb", "sandbox": "/n"}],
        "ips": [{"address": "10.88.0.2/16", "gateway": "10.88.0.1", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.0.0.53"], "extra": 1}})"));
    EXPECT_EQ(status["interfaces"][0]["sandbox"], "/n");
    EXPECT_EQ(status["ips"][0]["gateway"], "10.88.0.1");
    EXPECT_EQ(status["dns"], json::parse(R"({"nameservers": ["10.0.0.53"]})"));
}

TEST(Cni, ConfDirNetworksAreFoundByName) {
    testing::TempDir dir;
    std::ofstream(dir.path() + "/10-a.conflist") << R"({"cniVersion": "1.0.0", "name": "a", "plugins": [{"type": "bridge"}]})";
    std::ofstream(dir.path() + "/20-broken.conf") << "{not json";
    std::ofstream(dir.path() + "/30-b.conf") << R"({"cniVersion": "1.0.0", "name": "b", "type": "ptp"})";
    std::vector<std::string> skipped;
    EXPECT_EQ(find_conflist(dir.path(), "b", &skipped).value()["plugins"][0]["type"], "ptp");
    EXPECT_EQ(find_conflist(dir.path(), "a").value()["name"], "a");
    EXPECT_FALSE(find_conflist(dir.path(), "c").has_value());
    ASSERT_EQ(skipped.size(), 1u);
    EXPECT_NE(skipped[0].find("20-broken.conf: not JSON"), std::string::npos);
}

}  // namespace
}  // namespace kiln::cni
