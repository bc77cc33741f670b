// kiln-plugin-conformance: what every plugin of a kind must do, checked against one plugin
// directory (plugin.yaml and its library) by loading it as kilnd does.
//
//   kiln-plugin-conformance DIR [--config JSON] [--pod-config JSON]
//
// Every kind: the manifest reads, kilnd's plugin host loads and starts the plugin with the
// config (its section of kiln.yaml), and stops it; --pod-config is what a pod gives the isolator. Isolators: the spec comes back a JSON object
// that still has ociVersion, process and root; the same input gives the same output, from one
// thread or eight at once. Instrumentation: events delivered from several threads are taken.
// Network plugins are checked with the CNI plugin (attach/detach need real namespaces): for
// them the tool says so and exits 77 (skipped). Prints "ok ..." or "FAIL ...: why" per check;
// exits 1 if any failed.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include "core/daemon/plugin_host.hpp"
#include "core/sys/error.hpp"
#include "core/sys/log.hpp"

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

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: kiln-plugin-conformance DIR [--config JSON] [--pod-config JSON]\n";
        return 2;
    }
    std::string dir = std::filesystem::absolute(argv[1]).lexically_normal().string();
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    json config = json::object(), request = json::object();
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
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
    if (m.kind == "network") {
        std::cout << "skip network plugins are checked with namespaces of their own, by the CNI suite\n";
        return 77;
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
    {
        daemon::PluginHost host(cfg, tmp + "/state");
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
            }
        }
        host.stop();
        auto after = host.get(m.id);
        check(!after || after->state != daemon::PluginState::started, "stops");
    }
    std::filesystem::remove_all(tmp);
    return failures ? 1 : 0;
}
