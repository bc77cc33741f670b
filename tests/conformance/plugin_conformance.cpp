// kiln-plugin-conformance: what every plugin of a kind must do, checked against one plugin
// directory (plugin.yaml and its library) by loading it as kilnd does.
//
//   kiln-plugin-conformance DIR [--config JSON] [--pod-config JSON] [--network-config JSON]
//
// Every kind: the manifest reads, kilnd's plugin host loads and starts the plugin with the
// config (its section of kiln.yaml), and stops it; --pod-config is what a pod gives the isolator. Isolators: the spec comes back a JSON object
// that still has ociVersion, process and root; the same input gives the same output, from one
// thread or eight at once; sandbox() answers an object, the same for one pod twice, and
// release() takes the pod. Instrumentation: events delivered from several threads are taken.
// Network plugins (as root; else exit 77, skipped): the whole suite runs in a network namespace
// of its own, which stands for the host's; each pod is a netns from `ip netns add`. attach puts
// `ifname` with the addresses it reports into the pod's netns; check passes; two pods attached
// at once get different addresses; detach removes the interface, may be repeated, works when
// the netns is already gone and for a pod never attached; afterwards no veth is left in the
// suite's namespace; gc takes an empty list. --network-config is the network's config (null when
// absent), with ${tmp} replaced by the suite's temp dir. A plugin's container is not started:
// its HostContext::exec runs the command on the host, in the suite's namespace, so --config
// points it at host paths. Prints "ok ..." or "FAIL ...: why" per check; exits 1 if any failed.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <set>
#include <tuple>
#include <thread>

#include "core/daemon/plugin_host.hpp"
#include "core/sys/error.hpp"
#include "core/sys/log.hpp"
#include "core/sys/spawn.hpp"

using namespace kiln;
using nlohmann::json;

namespace {

int failures = 0;

void check(bool ok, const std::string& what, const std::string& why = "") {
    if (ok) {
        std::cout << "ok   " << what << "\n";
    } else {
        std::cout << "FAIL " << what << (why.empty() ? "" : ": " + why) << "\n";
        ++failures;
    }
}

json sample_spec() {
    return {{"ociVersion", "1.2.0"},
            {"process",
             {{"terminal", false},
              {"user", {{"uid", 0}, {"gid", 0}}},
              {"args", {"/bin/sh"}},
              {"env", {"PATH=/usr/bin:/bin"}},
              {"cwd", "/"}}},
            {"root", {{"path", "/var/lib/kiln/pods/p/containers/c/rootfs"}}},
            {"hostname", "p"},
            {"mounts", json::array({{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}})},
            {"linux", {{"namespaces", json::array({{{"type", "mount"}}, {{"type", "pid"}}})}}}};
}

// Runs argv (PATH searched), `input` on its stdin: exit code, stdout, stderr.
std::tuple<int, std::string, std::string> run_program(const std::vector<std::string>& argv, const std::string& input = "") {
    try {
        Captured c = run_captured(argv, input, 4 << 20, true);
        return {c.exit_code, c.out, c.err};
    } catch (const std::exception& e) {
        return {-1, "", argv[0] + ": cannot run it: " + e.what()};
    }
}

std::string sh(const std::string& command) { return std::get<1>(run_program({"sh", "-c", command})); }

// The network suite: see the top of this file.
void network_suite(daemon::PluginHost& host, const std::string& id, const json& network_config,
                   const std::string& tag) {
    auto veths = [] { return sh("ip -o link show type veth | wc -l"); };
    std::string baseline = veths();
    auto pod_ns = [&](const std::string& pod) { return tag + "-" + pod; };
    auto request = [&](const std::string& pod) {
        return json{{"pod", pod},
                    {"network", "conformance"},
                    {"netns", "/run/netns/" + pod_ns(pod)},
                    {"ifname", "eth0"},
                    {"portMappings", json::array()},
                    {"config", network_config}};
    };
    std::vector<std::string> pods = {"p1", "p2", "p3", "p4"};
    for (const auto& p : pods) sh("ip netns add " + pod_ns(p));

    json first;
    try {
        first = host.network_attach(id, request("p1"));
        check(first.is_object(), "attach answers a JSON object", first.dump());
    } catch (const std::exception& e) {
        check(false, "attach answers a JSON object", e.what());
    }
    bool shaped = true;
    for (const char* key : {"interfaces", "ips", "routes"})
        if (first.contains(key) && !first[key].is_array()) shaped = false;
    if (first.contains("dns") && !first["dns"].is_object()) shaped = false;
    check(shaped, "interfaces, ips and routes are lists, dns an object", first.dump());
    std::string links = sh("ip -n " + pod_ns("p1") + " -o addr show dev eth0 2>&1");
    check(links.find("eth0") != std::string::npos, "attach puts ifname eth0 into the pod's netns", links);
    std::set<std::string> mine;
    if (first.contains("ips") && first["ips"].is_array())
        for (const auto& ip : first["ips"]) {
            std::string address = ip.value("address", "");
            mine.insert(address);
            check(links.find(" " + address + " ") != std::string::npos, "the reported address " + address + " is on eth0", links);
        }
    try {
        host.network_check(id, request("p1"));
        check(true, "check passes after attach");
    } catch (const std::exception& e) {
        check(false, "check passes after attach", e.what());
    }

    json second, third;
    std::string errors;
    std::thread t2([&] {
        try {
            second = host.network_attach(id, request("p2"));
        } catch (const std::exception& e) {
            errors += std::string(e.what()) + "; ";
        }
    });
    try {
        third = host.network_attach(id, request("p3"));
    } catch (const std::exception& e) {
        errors += e.what();
    }
    t2.join();
    check(errors.empty(), "two pods attach at once", errors);
    std::set<std::string> all = mine;
    std::size_t count = mine.size();
    for (const json* r : {&second, &third})
        if (r->contains("ips") && (*r)["ips"].is_array())
            for (const auto& ip : (*r)["ips"]) {
                all.insert(ip.value("address", ""));
                ++count;
            }
    check(all.size() == count, "no two pods share an address", second.dump() + " " + third.dump());

    auto detach = [&](const std::string& pod, const std::string& what) {
        try {
            host.network_detach(id, request(pod));
            check(true, what);
        } catch (const std::exception& e) {
            check(false, what, e.what());
        }
    };
    detach("p1", "detach");
    std::string after = sh("ip -n " + pod_ns("p1") + " -o link show dev eth0 2>&1");
    check(after.find("eth0:") == std::string::npos || after.find("does not exist") != std::string::npos,
          "detach removes eth0 from the pod's netns", after);
    detach("p1", "detach again (nothing there) succeeds");
    sh("ip netns del " + pod_ns("p2"));
    detach("p2", "detach after the pod's netns is gone succeeds");
    detach("p3", "detach of the second concurrent pod");
    detach("p4", "detach of a pod never attached succeeds");
    check(veths() == baseline, "no veth is left in the host's namespace", sh("ip -o link show type veth"));
    try {
        host.network_gc(json::array());
        check(true, "gc with no attachments");
    } catch (const std::exception& e) {
        check(false, "gc with no attachments", e.what());
    }
    for (const auto& p : pods) sh("ip netns del " + pod_ns(p) + " 2>/dev/null");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: kiln-plugin-conformance DIR [--config JSON] [--pod-config JSON]\n";
        return 2;
    }
    std::string dir = std::filesystem::absolute(argv[1]).lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    json config = json::object(), request = json::object(), network_config;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--network-config") {
            network_config = json::parse(argv[i + 1], nullptr, false);
            if (network_config.is_discarded()) {
                std::cerr << "kiln-plugin-conformance: --network-config must be JSON\n";
                return 2;
            }
            continue;
        }
        json* into = flag == "--config" ? &config : flag == "--pod-config" ? &request : nullptr;
        if (!into) {
            std::cerr << "kiln-plugin-conformance: unknown flag " << flag << "\n";
            return 2;
        }
        *into = json::parse(argv[i + 1], nullptr, false);
        if (!into->is_object()) {
            std::cerr << "kiln-plugin-conformance: " << flag << " must be a JSON object\n";
            return 2;
        }
    }
    log::set_level(log::Level::warn);

    daemon::PluginManifest m;
    try {
        m = daemon::load_plugin_manifest(dir);
        check(true, "plugin.yaml reads (" + m.id + ", " + m.kind + " " + m.version + ")");
    } catch (const Error& e) {
        check(false, "plugin.yaml reads", e.what());
        return 1;
    }
    std::string netns_tag = "kiln-conf-" + std::to_string(::getpid());
    if (m.kind == "network") {
        if (::geteuid() != 0) {
            std::cout << "skip network plugins are checked as root (network namespaces)\n";
            return 77;
        }
        // This thread, and every one it starts, in a namespace that stands for the host's.
        if (std::get<0>(run_program({"ip", "netns", "add", netns_tag})) != 0) {
            std::cout << "FAIL ip netns add " << netns_tag << "\n";
            return 1;
        }
        int fd = ::open(("/run/netns/" + netns_tag).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
            std::cout << "FAIL entering " << netns_tag << "\n";
            return 1;
        }
        ::close(fd);
        sh("ip link set lo up");
    }

    // kilnd's way: a plugin directory holding only this plugin, and a state dir of its own.
    char tmpl[] = "/tmp/kiln-conformance-XXXXXX";
    if (!::mkdtemp(tmpl)) return 2;
    std::string tmp = tmpl;
    std::filesystem::create_directories(tmp + "/plugins");
    std::filesystem::create_directory_symlink(dir, tmp + "/plugins/" + m.id);
    daemon::Config cfg;
    cfg.plugin_dirs = {tmp + "/plugins"};
    cfg.plugins = json::object({{m.id, config}});
    if (!network_config.is_null()) {
        std::string text = network_config.dump();
        for (std::size_t at; (at = text.find("${tmp}")) != std::string::npos;) text.replace(at, 6, tmp);
        network_config = json::parse(text);
    }
    {
        daemon::PluginHost host(cfg, tmp + "/state");
        // No plugin container here: exec runs on the host, in this namespace.
        host.set_container_hooks({[](const daemon::PluginManifest&) {},
                                  [](const daemon::PluginManifest&, const std::vector<std::string>& argv,
                                     const std::string& input) { return run_program(argv, input); }});
        try {
            host.start();
        } catch (const Error& e) {
            check(false, "loads and starts", e.what());
        }
        auto st = host.get(m.id);
        check(st && st->state == daemon::PluginState::started, "loads and starts",
              st ? st->error : "not found by the host");
        if (st && st->state == daemon::PluginState::started) {
            if (m.kind == "isolator") {
                daemon::PodSpec pod;
                pod.name = "p";
                daemon::ContainerSpec c;
                c.name = "c";
                pod.containers.push_back(c);
                pod.isolators.push_back({m.id, request});
                json first;
                try {
                    host.check_isolators(pod);
                    check(true, "a pod may name it");
                    first = host.apply_isolators(pod, c, sample_spec());
                    check(first.is_object() && first.contains("ociVersion") && first.contains("process") &&
                              first.contains("root"),
                          "edit_spec returns a spec with ociVersion, process and root", first.dump());
                    check(host.apply_isolators(pod, c, sample_spec()) == first, "the same input gives the same spec");
                } catch (const std::exception& e) {
                    check(false, "edit_spec", e.what());
                }
                std::atomic<int> differ{0}, threw{0};
                std::vector<std::thread> threads;
                for (int t = 0; t < 8; ++t)
                    threads.emplace_back([&] {
                        for (int i = 0; i < 25; ++i) {
                            try {
                                if (host.apply_isolators(pod, c, sample_spec()) != first) ++differ;
                            } catch (...) {
                                ++threw;
                            }
                        }
                    });
                for (auto& t : threads) t.join();
                check(differ == 0 && threw == 0, "eight threads at once get the same spec",
                      std::to_string(differ) + " differed, " + std::to_string(threw) + " threw");
                // What it asks of the pod's sandbox: an object, the same for the same pod, and
                // released without a throw.
                try {
                    json once = host.sandbox_settings(pod), twice = host.sandbox_settings(pod);
                    check(once.is_object(), "sandbox() answers a JSON object", once.dump());
                    check(once == twice, "sandbox() answers one pod the same twice", once.dump() + " then " + twice.dump());
                    host.release_pod(pod);
                    check(true, "release() takes the pod");
                } catch (const std::exception& e) {
                    check(false, "sandbox() and release()", e.what());
                }
            } else if (m.kind == "instrumentation") {
                std::vector<std::thread> threads;
                for (int t = 0; t < 4; ++t)
                    threads.emplace_back([&, t] {
                        for (int i = 0; i < 50; ++i)
                            host.deliver_event({{"id", t * 50 + i + 1},
                                                {"type", i % 2 ? "container.exited" : "pod.created"},
                                                {"pod", "p"},
                                                {"container", "c"},
                                                {"time", "2026-01-01T00:00:00Z"},
                                                {"attributes", {{"exitCode", 0}}}});
                    });
                for (auto& t : threads) t.join();
                check(true, "takes 200 events from four threads");
            } else if (m.kind == "network") {
                network_suite(host, m.id, network_config, netns_tag);
            }
        }
        host.stop();
        auto after = host.get(m.id);
        check(!after || after->state != daemon::PluginState::started, "stops");
    }
    std::filesystem::remove_all(tmp);
    if (m.kind == "network") run_program({"ip", "netns", "del", netns_tag});
    return failures ? 1 : 0;
}
