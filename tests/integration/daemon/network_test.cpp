// Pod networking through the cni plugin and its container: kilnd runs in a network namespace
// each test creates (so kiln0, addresses and iptables rules stay there) and the checks look at
// that namespace from outside.
#include <fstream>

#include "tests/integration/daemon/daemon_harness.hpp"

namespace kiln::testing {
namespace {

using nlohmann::json;

// The pod's first address (without the prefix length), from its status.
std::string address_of(const json& pod) {
    if (!pod.contains("networks") || pod["networks"].empty() || pod["networks"][0]["ips"].empty()) return "";
    std::string a = pod["networks"][0]["ips"][0].value("address", "");
    return a.substr(0, a.find('/'));
}

std::string exec_out(Kilnd& k, const std::string& pod, const std::string& script) {
    auto r = k.client().call("POST", "/v1/pods/" + pod + "/containers/main/exec", json{{"command", {"sh", "-c", script}}});
    return r.value("stdout", "") + r.value("stderr", "");
}

// A pod of one busybox container on the deployment's default network.
json net_pod(const std::string& name, const std::vector<std::string>& args) {
    json pod = simple_pod(name, args);
    pod.erase("networks");
    return pod;
}

json create(Kilnd& k, const json& pod) {
    auto r = k.client().request("POST", "/v1/pods", pod);
    EXPECT_EQ(r.status, 201) << r.body;
    return k.client().call("GET", "/v1/pods/" + pod.value("name", ""));
}

class Network : public ::testing::Test {
protected:
    void SetUp() override { KILN_REQUIRE_ROOT(); }
    // kilnd in the test's netns with the cni plugin and `extra` config.
    std::unique_ptr<Kilnd> start(const std::string& extra = "") {
        auto k = std::make_unique<Kilnd>("disabledPlugins: [metrics, gateway]\ndefaultNetworks: [default]\n" + extra, ns.name());
        k->import_busybox();
        return k;
    }
    std::string cni_state(Kilnd& k) const { return k.dir() + "/state/plugins/cni"; }

    TestNetns ns;
};

TEST_F(Network, TwoPodsOnTheDefaultBridgeReachEachOther) {
    auto k = start();
    json server = create(*k, net_pod("server", {"httpd", "-f", "-p", "80", "-h", "/etc"}));
    std::string ip = address_of(server);
    ASSERT_EQ(ip.rfind("10.88.", 0), 0u) << server.dump();
    EXPECT_EQ(server["networks"][0]["network"], "default");
    EXPECT_EQ(server["networks"][0]["ifname"], "eth0");
    EXPECT_EQ(server.value("netns", ""), k->dir() + "/run/netns/server");
    create(*k, net_pod("client", {"sleep", "1000"}));
    EXPECT_NE(exec_out(*k, "client", "wget -q -O - http://" + ip + "/passwd").find("root:x:0:0"), std::string::npos);
    // /etc/hosts names the pod on its address; the bridge is in the test's namespace only.
    EXPECT_NE(exec_out(*k, "server", "cat /etc/hosts").find(ip + "\tserver"), std::string::npos);
    EXPECT_NE(ns.in("ip -o addr show kiln0").out.find("10.88.0.1/16"), std::string::npos);
    EXPECT_EQ(sh("ip link show kiln0 2>/dev/null | grep -c kiln0 || true").out, "0\n") << "kiln0 is in the machine's namespace";
    // The plugin's container may write /proc/sys/net (the bridge plugin does), and nothing else
    // of /proc/sys.
    auto sysctl = k->client().call("POST", "/v1/pods/plugin-cni/containers/main/exec",
                                   json{{"command", {"sh", "-c", "cat /proc/sys/net/ipv4/ip_forward > /proc/sys/net/ipv4/ip_forward && echo net-ok; "
                                                                 "cat /proc/sys/kernel/core_pattern > /proc/sys/kernel/core_pattern || echo kernel-refused"}}});
    EXPECT_EQ(sysctl.value("stdout", ""), "net-ok\nkernel-refused\n") << sysctl.dump();
    // kiln networks lists it as the default, with its chain.
    auto listed = k->cli({"networks"});
    EXPECT_EQ(listed.code, 0) << listed.err;
    EXPECT_NE(listed.out.find("default"), std::string::npos);
    EXPECT_NE(listed.out.find("bridge,portmap"), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("started"), std::string::npos) << listed.out;
    // The pod's netns file is what its containers run in.
    EXPECT_EQ(ns.in("ip netns identify 2>/dev/null; readlink /proc/self/ns/net").code, 0);
    auto inode = [](const std::string& path) { return sh("stat -L -c %i " + path).out; };
    EXPECT_EQ(inode(server.value("netns", "")), inode("/proc/" + std::to_string(server["containers"][0].value("pid", 0)) + "/ns/net"));
}

TEST_F(Network, PortMappingIsReachedFromTheTestsNamespace) {
    auto k = start();
    auto r = k->cli({"run", "-d", "--name", "web", "-p", "8080:80", "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"});
    ASSERT_EQ(r.code, 0) << r.err;
    auto pod = k->client().call("GET", "/v1/pods/web");
    EXPECT_EQ(pod["spec"]["ports"], json::parse(R"([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])"));
    auto got = ns.in("busybox wget -q -O - http://10.88.0.1:8080/group");
    EXPECT_NE(got.out.find("root:x:0:"), std::string::npos) << got.err;
    // Nothing answers on a port that is not mapped.
    EXPECT_NE(ns.in("busybox wget -q -T 2 -O - http://10.88.0.1:8081/group").code, 0);
}

TEST_F(Network, DeleteLeavesNoVethRuleOrLease) {
    auto k = start();
    json pod = net_pod("gone", {"sleep", "1000"});
    pod["ports"] = json::parse(R"([{"hostPort": 9090, "containerPort": 90}])");
    std::string ip = address_of(create(*k, pod));
    ASSERT_FALSE(ip.empty());
    std::string leases = cni_state(*k) + "/cni/networks/default";
    EXPECT_EQ(sh("test -f " + leases + "/" + ip).code, 0) << "host-local leased " << ip;
    EXPECT_NE(ns.in("iptables-save").out.find(ip), std::string::npos);
    EXPECT_NE(ns.in("ip -o link").out.find("veth"), std::string::npos);

    ASSERT_EQ(k->client().request("DELETE", "/v1/pods/gone?force=true").status, 204);
    EXPECT_EQ(ns.in("ip -o link").out.find("veth"), std::string::npos) << ns.in("ip -o link").out;
    std::string rules = ns.in("iptables-save").out;
    EXPECT_EQ(rules.find(ip), std::string::npos) << rules;
    EXPECT_EQ(rules.find("9090"), std::string::npos) << rules;
    EXPECT_EQ(rules.find("CNI-DN-"), std::string::npos) << rules;
    EXPECT_NE(sh("test -e " + leases + "/" + ip).code, 0) << "the lease of " << ip << " is still there";
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/results").out, "");
    EXPECT_NE(sh("test -e " + k->dir() + "/run/netns/gone").code, 0);
}

TEST_F(Network, AFailingCniPluginIsThePodsErrorAndLeavesNothing) {
    auto k = start(R"(networks:
  - name: default
    plugin: cni
    config:
      cniVersion: 1.0.0
      plugins:
        - type: bridge
          bridge: kiln0
          isGateway: true
          ipam: {type: host-local, ranges: [[{subnet: 10.88.0.0/16}]]}
  - name: broken
    plugin: cni
    config:
      cniVersion: 1.0.0
      plugins:
        - type: bridge
          bridge: kiln1
          ipam: {type: host-local, ranges: [[{subnet: 10.89.0.0/16}]]}
        - type: no-such-plugin
  - name: badsubnet
    plugin: cni
    config:
      cniVersion: 1.0.0
      plugins:
        - {type: bridge, bridge: kiln2, ipam: {type: host-local, ranges: [[{subnet: 10.90.0.0/33}]]}}
)");
    json pod = net_pod("doomed", {"sleep", "1000"});
    pod["networks"] = {"default", "broken"};
    auto r = k->client().request("POST", "/v1/pods", pod);
    EXPECT_EQ(r.status, 412) << r.body;
    EXPECT_NE(r.body.find("network broken"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("failed to find plugin \\\"no-such-plugin\\\""), std::string::npos) << r.body;
    EXPECT_EQ(k->client().request("GET", "/v1/pods/doomed").status, 404);
    // Both attachments went: the one that worked, and the half of the one that failed.
    EXPECT_EQ(ns.in("ip -o link").out.find("veth"), std::string::npos) << ns.in("ip -o link").out;
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/cni/networks/default " + cni_state(*k) + "/cni/networks/broken 2>/dev/null | grep -c '^10\\.' || true").out, "0\n");
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/results").out, "");
    EXPECT_EQ(sh("ls " + k->dir() + "/run/netns").out, "");

    pod["name"] = "doomed2";
    pod["networks"] = {"badsubnet"};
    r = k->client().request("POST", "/v1/pods", pod);
    EXPECT_EQ(r.status, 412) << r.body;
    EXPECT_NE(r.body.find("network badsubnet: network plugin cni: CNI error"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("10.90.0.0/33"), std::string::npos) << r.body;

    pod["name"] = "doomed3";
    pod["networks"] = {"nowhere"};
    r = k->client().request("POST", "/v1/pods", pod);
    EXPECT_NE(r.body.find("no network \\\"nowhere\\\""), std::string::npos) << r.body;
    EXPECT_EQ(ns.in("ip -o link").out.find("veth"), std::string::npos);
}

TEST_F(Network, ThePluginsContainerComesBackAndNewPodsStillGetAddresses) {
    auto k = start();
    EXPECT_FALSE(address_of(create(*k, net_pod("before", {"sleep", "1000"}))).empty());
    auto plugin = k->client().call("GET", "/v1/pods/plugin-cni");
    EXPECT_TRUE(plugin.value("system", false));
    int pid = plugin["containers"][0].value("pid", 0);
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGKILL);
    k->wait_pod("plugin-cni", [&](const json& p) {
        return p["containers"][0].value("restartCount", 0) >= 1 && p["containers"][0].value("state", "") == "running";
    });
    std::string ip = address_of(create(*k, net_pod("after", {"sleep", "1000"})));
    EXPECT_EQ(ip.rfind("10.88.", 0), 0u);
    // The first pod's attachment is still released through the new container.
    ASSERT_EQ(k->client().request("DELETE", "/v1/pods/before?force=true").status, 204);
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/results").out, "default_after_eth0.json\n");
}

TEST_F(Network, AThirdPartyCniBinaryAndAConfDirNetworkNeedNoCode) {
    // A CNI plugin of nobody's making: a shell script in the plugin's bin dir, run by the image's
    // busybox, answering ADD with an address and DNS; a network for it in a conflist file.
    TempDir conf("kiln-cni-conf");
    std::ofstream(conf.path() + "/10-static.conflist")
        << R"({"cniVersion": "1.0.0", "name": "static", "plugins": [{"type": "kiln-test-static", "address": "192.0.2.77/24"}]})";
    // And one that never answers, killed at the plugin's timeout.
    std::ofstream(conf.path() + "/20-slow.conflist")
        << R"({"cniVersion": "1.0.0", "name": "slow", "plugins": [{"type": "kiln-test-slow"}]})";
    auto k = start("plugins:\n  cni: {confDir: " + conf.path() + ", timeout: 2}\n");
    std::string bin = cni_state(*k) + "/bin/kiln-test-static";
    std::ofstream(bin) << R"(#!/bin/sh
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0"]}' ;;
ADD) cat > /tmp/added.json
     echo "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"$CNI_IFNAME\",\"sandbox\":\"$CNI_NETNS\"}],\"ips\":[{\"address\":\"192.0.2.77/24\",\"interface\":0}],\"dns\":{\"nameservers\":[\"192.0.2.53\"],\"search\":[\"example.test\"]}}" ;;
DEL) echo "$CNI_CONTAINERID" > /tmp/deleted ;;
esac
)";
    ::chmod(bin.c_str(), 0755);
    json pod = net_pod("static", {"sleep", "1000"});
    pod["networks"] = {"static"};
    json created = create(*k, pod);
    EXPECT_EQ(address_of(created), "192.0.2.77");
    EXPECT_EQ(created["networks"][0]["dns"]["nameservers"], json({"192.0.2.53"}));
    std::string resolv = exec_out(*k, "static", "cat /etc/resolv.conf");
    EXPECT_NE(resolv.find("nameserver 192.0.2.53"), std::string::npos) << resolv;
    EXPECT_NE(resolv.find("search example.test"), std::string::npos) << resolv;
    auto added = k->client().call("POST", "/v1/pods/plugin-cni/containers/main/exec", json{{"command", {"cat", "/tmp/added.json"}}});
    auto stdin_config = json::parse(added.value("stdout", "{}"));
    EXPECT_EQ(stdin_config["name"], "static");
    EXPECT_EQ(stdin_config["address"], "192.0.2.77/24");
    ASSERT_EQ(k->client().request("DELETE", "/v1/pods/static?force=true").status, 204);
    auto deleted = k->client().call("POST", "/v1/pods/plugin-cni/containers/main/exec", json{{"command", {"cat", "/tmp/deleted"}}});
    EXPECT_EQ(deleted.value("stdout", ""), "static\n");

    std::string slow = cni_state(*k) + "/bin/kiln-test-slow";
    std::ofstream(slow) << "#!/bin/sh\n[ \"$CNI_COMMAND\" = VERSION ] && exec echo '{\"supportedVersions\":[\"1.0.0\"]}'\n"
                           "[ \"$CNI_COMMAND\" = ADD ] && exec sleep 60\nexit 0\n";
    ::chmod(slow.c_str(), 0755);
    json stuck = net_pod("stuck", {"sleep", "1000"});
    stuck["networks"] = {"slow"};
    auto r = k->client().request("POST", "/v1/pods", stuck);
    EXPECT_EQ(r.status, 412) << r.body;
    EXPECT_NE(r.body.find("kiln-test-slow: ADD was killed (timeout)"), std::string::npos) << r.body;
    EXPECT_EQ(k->client().request("GET", "/v1/pods/stuck").status, 404);
}

// stopPodsOnExit: kilnd stops the pods before it exits, the plugins' pods last, so every pod's
// network is detached through the cni plugin's container while it still runs.
TEST_F(Network, StoppingKilndWithItsPodsDetachesEveryNetwork) {
    auto k = start("stopPodsOnExit: true\n");
    for (const char* name : {"a1", "a2", "zz"}) create(*k, net_pod(name, {"sleep", "1000"}));
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/results | wc -l").out, "3\n");
    k->stop();
    EXPECT_EQ(ns.in("ip -o link show type veth").out, "");
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/results").out, "");
    EXPECT_EQ(sh("ls " + cni_state(*k) + "/cni/networks/default | grep -c '^10\\.' || true").out, "0\n");
    k->start();  // so that the end deletes the stopped pods as usual
}

TEST_F(Network, NoneAndHostModes) {
    auto k = start();
    json none = net_pod("alone", {"sleep", "1000"});
    none["networks"] = {"none"};
    json rec = create(*k, none);
    EXPECT_TRUE(rec["networks"].empty());
    std::string links = exec_out(*k, "alone", "cat /proc/net/dev");
    EXPECT_NE(links.find("lo:"), std::string::npos);
    EXPECT_EQ(links.find("eth0"), std::string::npos) << links;
    EXPECT_EQ(exec_out(*k, "alone", "cat /etc/resolv.conf"), "");

    json host = net_pod("hosted", {"sleep", "1000"});
    host["networks"] = {"host"};
    ASSERT_EQ(ns.in("ip link add kiln-nt-mark type veth peer name kiln-nt-peer").code, 0);
    rec = create(*k, host);
    EXPECT_FALSE(rec.contains("netns"));
    EXPECT_TRUE(rec["networks"].empty());
    // kilnd's namespace is the test's: the interface made there is seen.
    EXPECT_NE(exec_out(*k, "hosted", "cat /proc/net/dev").find("kiln-nt-mark"), std::string::npos);

    json bad = net_pod("bad", {"sleep", "1"});
    bad["ports"] = json::parse(R"([{"hostPort": 0, "containerPort": 80}])");
    auto r = k->client().request("POST", "/v1/pods", bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("ports[0].hostPort"), std::string::npos) << r.body;
    bad["ports"] = json::parse(R"([{"hostPort": 80, "containerPort": 80}])");
    bad["networks"] = {"host"};
    r = k->client().request("POST", "/v1/pods", bad);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("ports: needs a network"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

// plugins/examples/ptp-network, built outside this tree against the SDK as installed: it passes
// the network conformance suite, and kilnd attaches pods with it.
TEST_F(Network, TheOutOfTreeNetworkExampleBuildsPassesConformanceAndAttachesPods) {
    TempDir work("kiln-ptp");
    std::string w = work.path();
    auto r = sh("cmake --install " + std::string(KILN_BUILD_DIR) + " --component sdk --prefix " + w + "/sdk", 120);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    r = sh("cmake -S " + std::string(KILN_SOURCE_DIR) + "/plugins/examples/ptp-network -B " + w +
               "/build -G Ninja -DCMAKE_PREFIX_PATH=" + w + "/sdk && cmake --build " + w + "/build",
           300);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_EQ(sh("grep -l '" + std::string(KILN_SOURCE_DIR) + "/core' " + w + "/build/build.ninja || true").out, "");
    sh("mkdir -p " + w + "/plugins/ptp && cp " + std::string(KILN_SOURCE_DIR) +
       "/plugins/examples/ptp-network/plugin.yaml " + w + "/build/ptp_network.so " + w + "/plugins/ptp/");

    r = run({std::string(KILN_BUILD_DIR) + "/bin/kiln-plugin-conformance", w + "/plugins/ptp", "--network-config",
             R"({"subnet": "10.99.0.0/24"})"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("ok   no veth is left in the host's namespace"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ok   no two pods share an address"), std::string::npos) << r.out;

    Kilnd k("pluginDirs: [" + w + "/plugins]\nnetworks: [{name: p2p, plugin: ptp, config: {subnet: 10.99.0.0/24}}]\n"
            "defaultNetworks: [p2p]\n",
            ns.name());
    k.import_busybox();
    json pod = create(k, net_pod("viaptp", {"httpd", "-f", "-p", "80", "-h", "/etc"}));
    EXPECT_EQ(address_of(pod), "10.99.0.2") << pod.dump();
    EXPECT_EQ(pod["networks"][0]["plugin"], "ptp");
    auto got = ns.in("busybox wget -q -O - http://10.99.0.2/passwd");
    EXPECT_NE(got.out.find("root:x:0:0"), std::string::npos) << got.err;
    ASSERT_EQ(k.client().request("DELETE", "/v1/pods/viaptp?force=true").status, 204);
    EXPECT_EQ(ns.in("ip -o link show type veth").out, "");
}

}  // namespace
}  // namespace kiln::testing
