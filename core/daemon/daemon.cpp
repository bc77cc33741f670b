// kilnd's parts wired together, and appliance mode.
#include "core/daemon/daemon.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <set>

#include "core/cgroups/layout.hpp"
#include "core/daemon/pod_stats.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"

namespace kiln::daemon {

Daemon::Daemon(Config config, const std::string& bin_dir) : config_(std::move(config)) {
    paths_.state_dir = config_.state_dir;
    paths_.run_dir = config_.run_dir;
    paths_.monitor_binary = bin_dir + "/kiln-monitor";
    paths_.pause_binary = bin_dir + "/kiln-pause";
    paths_.runtime_binary = bin_dir + "/kiln-runtime";
    for (const auto& b : {paths_.monitor_binary, paths_.pause_binary, paths_.runtime_binary})
        if (!path_exists(b)) precondition("kilnd: " + b + " is missing (it is installed beside kilnd)");
    mkdir_all(config_.state_dir, 0711);
    mkdir_all(config_.run_dir, 0711);
    images_ = std::make_unique<image::Store>(config_.state_dir);
    pods_ = std::make_unique<PodManager>(config_, paths_, events_, [this](const std::string& ref) { return resolve_image(ref); });
    plugins_ = std::make_unique<PluginHost>(config_, config_.state_dir, bin_dir);
    pods_->set_sandbox_hooks([this](const PodSpec& pod) { return plugins_->sandbox_settings(pod); },
                             [this](const PodSpec& pod) { plugins_->release_pod(pod); });
    pods_->set_networking([this](const PodSpec& pod, const std::string& netns) { return attach_networks(pod, netns); },
                          [this](const PodSpec& pod, const std::string& netns, const nlohmann::json& attachments) {
                              detach_networks(pod, netns, attachments);
                          });
    pods_->set_isolation([this](const PodSpec& pod) {
                             plugins_->check_isolators(pod);
                             for (std::size_t i = 0; i < pod.networks.size(); ++i)
                                 if (pod.networks[i] != "none" && pod.networks[i] != "host") try {
                                         network_plugin(pod.networks[i]);
                                     } catch (const Error& e) {
                                         invalid("networks[" + std::to_string(i) + "]: " + e.what());
                                     }
                         },
                         [this](const PodSpec& pod, const ContainerSpec& c, nlohmann::json spec) {
                             {
                                 std::lock_guard lock(system_mu_);
                                 if (auto it = system_pods_.find(pod.name); it != system_pods_.end())
                                     return plugin_container_spec(it->second, std::move(spec));
                             }
                             return plugins_->apply_isolators(pod, c, std::move(spec));
                         });
    plugins_->set_container_hooks(
        {[this](const PluginManifest& m) { ensure_plugin_pod(m); },
         [this](const PluginManifest& m, const std::vector<std::string>& argv, const std::string& input) {
             // A container that died is restarted after a back-off: calls in between wait for it.
             std::string pod = "plugin-" + m.id;
             for (int i = 0; i < 150; ++i) {
                 auto st = pods_->container(pod, "main");
                 if (st.state == State::running && st.pid) break;
                 std::this_thread::sleep_for(std::chrono::milliseconds(100));
             }
             auto r = pods_->exec(pod, "main", argv, input);
             return std::make_tuple(r.exit_code, r.out, r.err);
         },
         [this](const PluginManifest& m) {
             std::string pod = "plugin-" + m.id;
             try {
                 pods_->remove(pod, true);
             } catch (const Error& e) {
                 if (e.code() != Errc::not_found) throw;
             }
             std::lock_guard lock(system_mu_);
             system_pods_.erase(pod);
         }});
    started_ = std::chrono::system_clock::now();
}

Daemon::~Daemon() {
    // A start() that threw after the relay began leaves it running.
    events_.close();
    stop_stats();
    if (event_relay_.joinable()) event_relay_.join();
    if (stats_relay_.joinable()) stats_relay_.join();
}

void Daemon::stop_stats() {
    {
        std::lock_guard lock(plugins_ready_mu_);
        stats_stop_ = true;
    }
    plugins_ready_cv_.notify_all();
}

ImageInfo Daemon::resolve_image(const std::string& ref) {
    image::Image img = images_->get(ref);
    ImageInfo info;
    info.digest = img.digest;
    info.defaults.entrypoint = img.config.entrypoint;
    info.defaults.cmd = img.config.cmd;
    info.defaults.env = img.config.env;
    info.defaults.working_dir = img.config.working_dir;
    info.defaults.user = img.config.user;
    info.defaults.stop_signal = img.config.stop_signal;
    info.lower_dirs = images_->lower_dirs(img);
    return info;
}

std::set<std::string> Daemon::images_of(const PodRecord& r) const {
    std::set<std::string> out;
    for (const auto& c : r.containers)
        if (!c.image_digest.empty()) out.insert(c.image_digest);  // what it was started from
    for (const auto& c : r.spec.containers) {
        try {
            out.insert(images_->get(c.image).digest);  // what it would start from next
        } catch (const Error&) {
        }
    }
    return out;
}

std::vector<std::string> Daemon::pods_using(const std::string& digest) {
    std::vector<std::string> out;
    for (const auto& r : pods_->list())
        if (images_of(r).count(digest)) out.push_back(r.spec.name);
    return out;
}

std::set<std::string> Daemon::images_in_use() {
    std::set<std::string> out;
    for (const auto& r : pods_->list()) out.merge(images_of(r));
    return out;
}

image::RegistryConfig Daemon::registry_config(const std::string& registry) const {
    image::RegistryConfig rc;
    if (auto it = config_.registries.find(registry); it != config_.registries.end()) {
        rc.insecure = it->second.insecure;
        rc.ca_file = it->second.ca_file;
        rc.credentials = {it->second.username, it->second.password};
    }
    if (rc.credentials.empty()) rc.credentials = image::read_auth_file(config_.auth_path(), registry);
    return rc;
}

image::Image Daemon::pull(const std::string& ref, const image::ImportOptions& options) {
    return images_->pull(ref, options, [this](const std::string& registry) { return registry_config(registry); });
}

void Daemon::login(const std::string& registry, const image::RegistryCredentials& credentials) {
    image::RegistryConfig rc = registry_config(registry);
    rc.credentials = credentials;
    image::RegistryClient(registry, "", rc).check_login();
    image::store_auth(config_.auth_path(), registry, credentials);
}

bool Daemon::logout(const std::string& registry) { return image::remove_auth(config_.auth_path(), registry); }

std::optional<std::string> Daemon::plugin_of(const std::string& pod) const {
    std::lock_guard lock(system_mu_);
    auto it = system_pods_.find(pod);
    if (it == system_pods_.end()) return std::nullopt;
    return it->second.id;
}

void Daemon::import_plugin_image(const PluginManifest& m) {
    const std::string& path = m.container.image_path;
    std::optional<image::Image> existing;
    try {
        existing = images_->get(m.container.image);
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
    }
    if (existing) {
        // A layout says which manifest it holds; an archive is imported once.
        auto index = read_file_if_exists(path + "/index.json");
        if (!index) return;
        auto j = nlohmann::json::parse(*index, nullptr, false);
        if (j.is_object() && j.contains("manifests") && j["manifests"].is_array() && !j["manifests"].empty() &&
            j["manifests"][0].value("digest", "") == existing->digest)
            return;
    }
    auto img = images_->import(path, m.container.image);
    log::info("plugin " + m.id + ": imported its image " + img.name + " (" + img.digest + ") from " + path);
}

void Daemon::ensure_plugin_pod(const PluginManifest& m) {
    std::string name = "plugin-" + m.id;
    if (name.size() > 63) invalid("plugin id " + m.id + " is too long to name its pod (" + name + ")");
    if (!m.container.image_path.empty()) import_plugin_image(m);
    PodSpec spec;
    spec.name = name;
    ContainerSpec c;
    c.name = "main";
    c.image = m.container.image;
    c.command = m.container.command;
    spec.containers.push_back(c);
    spec.restart_policy = {RestartPolicy::Kind::always, 0, 1.0, 30.0};
    spec.stop_grace_period = 5.0;
    spec.hostname = name;
    bool host_net = std::count(m.container.host_namespaces.begin(), m.container.host_namespaces.end(), "net") > 0;
    spec.networks = {host_net ? "host" : "none"};
    spec = parse_pod_spec(to_json(spec));  // the canonical form, as a stored pod has it
    {
        std::lock_guard lock(system_mu_);
        system_pods_[name] = m;
    }
    std::optional<PodRecord> existing;
    try {
        existing = pods_->get(name);
    } catch (const Error& e) {
        if (e.code() != Errc::not_found) throw;
    }
    if (existing) {
        if (!existing->system) precondition("a pod named " + name + " exists and is not plugin " + m.id + "'s");
        bool stale_netns = m.kind == "network" && pods_->netns_dir_fresh() && existing->state() == State::running;
        if (existing->spec == spec && !stale_netns) {
            if (existing->state() != State::running) pods_->start(name);
            return;
        }
        if (stale_netns) log::info("plugin " + m.id + ": its container predates " + paths_.netns() + "; replacing pod " + name);
        else log::info("plugin " + m.id + ": its container changed; replacing pod " + name);
        pods_->remove(name, true);
    }
    pods_->create(spec, true, true);
}

nlohmann::json Daemon::plugin_container_spec(const PluginManifest& m, nlohmann::json spec) const {
    const auto& c = m.container;
    auto shared = [&](const std::string& type) {
        std::string t = type == "network" ? "net" : type;
        return std::count(c.host_namespaces.begin(), c.host_namespaces.end(), t) > 0;
    };
    if (spec.contains("linux") && spec["linux"].contains("namespaces")) {
        nlohmann::json kept = nlohmann::json::array();
        for (const auto& ns : spec["linux"]["namespaces"])
            if (!shared(ns.value("type", ""))) kept.push_back(ns);
        spec["linux"]["namespaces"] = kept;
    }
    for (const char* set : {"bounding", "effective", "permitted"}) {
        auto& caps = spec["process"]["capabilities"][set];
        if (!caps.is_array()) caps = nlohmann::json::array();
        for (const auto& cap : c.capabilities)
            if (std::find(caps.begin(), caps.end(), cap) == caps.end()) caps.push_back(cap);
    }
    auto bind = [&](const std::string& source, const std::string& destination, bool readonly) {
        spec["mounts"].push_back({{"destination", destination},
                                  {"type", "bind"},
                                  {"source", source},
                                  {"options", {"rbind", readonly ? "ro" : "rw", "nosuid", "nodev"}}});
    };
    for (const auto& mt : c.mounts) {
        std::string source = mt.source;
        if (source.starts_with("${stateDir}")) {
            source = config_.state_dir + "/plugins/" + m.id + source.substr(11);
            mkdir_all(source, 0700);
        }
        bind(source, mt.destination, mt.readonly);
    }
    for (const char* list : {"readonlyPaths", "maskedPaths"}) {
        auto& paths = spec["linux"][list];
        if (!paths.is_array()) continue;
        // A writable path inside a protected one leaves the protected one's other entries
        // protected: /proc/sys read-only with /proc/sys/net writable becomes /proc/sys/kernel,
        // /proc/sys/vm, ... read-only (the host's own listing of it, which the container's
        // matches).
        std::function<void(const std::string&, nlohmann::json&)> keep = [&](const std::string& path, nlohmann::json& out) {
            for (const auto& w : c.writable_paths) {
                if (path == w || path.starts_with(w + "/")) return;  // inside the writable tree
                if (w.starts_with(path + "/")) {
                    std::error_code ec;
                    for (const auto& e : std::filesystem::directory_iterator(path, ec)) keep(e.path().string(), out);
                    return;
                }
            }
            out.push_back(path);
        };
        nlohmann::json kept = nlohmann::json::array();
        for (const auto& p : paths) keep(p.get<std::string>(), kept);
        paths = kept;
    }
    if (m.kind == "network") {
        // The pods' netns files, at the same path as on the host; rslave, so that those mounted
        // after the container started appear in it.
        spec["mounts"].push_back({{"destination", paths_.netns()},
                                  {"type", "bind"},
                                  {"source", paths_.netns()},
                                  {"options", {"rbind", "rslave", "rw", "nosuid", "nodev", "noexec"}}});
    }
    if (c.api_access) bind(config_.socket_path(), "/run/kiln/kiln.sock", true);
    spec["annotations"]["io.kiln.plugin"] = m.id;
    return spec;
}

void Daemon::start() {
    // Pods first (a plugin's container may be among them, still running), then the images the
    // plugins' containers may need, then the plugins.
    pods_->recover();
    import_images(config_.images);
    try {
        plugins_->start();
    } catch (...) {
        {
            std::lock_guard lock(plugins_ready_mu_);
            plugins_ready_ = true;
        }
        plugins_ready_cv_.notify_all();
        throw;
    }
    {
        std::lock_guard lock(plugins_ready_mu_);
        plugins_ready_ = true;
    }
    plugins_ready_cv_.notify_all();
    // The network plugins hear which attachments still stand: those of the pods that ran on while
    // kilnd was away are checked, and anything else a plugin holds goes.
    nlohmann::json attachments = nlohmann::json::array();
    for (const auto& r : pods_->list())
        for (std::size_t i = 0; i < r.networks.size(); ++i) {
            const auto& a = r.networks[i];
            attachments.push_back({{"pod", r.spec.name}, {"network", a.value("network", "")},
                                   {"ifname", a.value("ifname", "")}, {"plugin", a.value("plugin", "")}});
            try {
                auto req = network_request(r.spec, r.netns, i, a.value("network", ""));
                req["ifname"] = a.value("ifname", "");
                plugins_->network_check(a.value("plugin", ""), req);
            } catch (const std::exception& e) {
                log::warn("pod " + r.spec.name + ": network " + a.value("network", "") + ": check: " + e.what());
            }
        }
    plugins_->network_gc(attachments);
    // The containers of plugins that are no longer installed go.
    for (const auto& r : pods_->list()) {
        if (!r.system || plugin_of(r.spec.name)) continue;
        log::info("removing " + r.spec.name + ": no installed plugin has it as its container");
        try {
            pods_->remove(r.spec.name, true);
        } catch (const std::exception& e) {
            log::error("removing " + r.spec.name + ": " + e.what());
        }
    }
    // Every event from now on goes to the instrumentation plugins, in order, off the publishers'
    // threads.
    event_relay_ = std::thread([this] {
        std::uint64_t cursor = events_.last_id();
        while (!events_.closed())
            for (const auto& e : events_.wait(cursor, 1000)) {
                cursor = e.id;
                plugins_->deliver_event(to_json(e));
            }
    });
    stats_relay_ = std::thread([this] {
        for (;;) {
            std::unique_lock lock(plugins_ready_mu_);
            if (plugins_ready_cv_.wait_for(lock, std::chrono::duration<double>(config_.stats_interval),
                                           [&] { return stats_stop_; }))
                return;
            lock.unlock();
            if (!plugins_->has_instrumentation()) continue;
            try {
                plugins_->deliver_stats(stats());
            } catch (const std::exception& e) {
                log::warn(std::string("stats: ") + e.what());
            }
        }
    });
    apply_appliance(config_.pods, {});
}

namespace {
// Upper bounds (seconds) of the API latency histogram, as Prometheus' defaults go.
constexpr double kLatencyBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}  // namespace

void Daemon::record_request(std::string_view method, int status, std::chrono::microseconds duration) {
    double seconds = static_cast<double>(duration.count()) / 1e6;
    // Methods by name only when HTTP knows them: a client must not grow this map at will.
    static const std::set<std::string_view> known = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    std::string name = known.count(method) ? std::string(method) : "other";
    std::lock_guard lock(api_mu_);
    ++api_requests_[{name, status}];
    if (api_buckets_.empty()) api_buckets_.assign(std::size(kLatencyBuckets), 0);
    for (std::size_t i = 0; i < std::size(kLatencyBuckets); ++i)
        if (seconds <= kLatencyBuckets[i]) {
            ++api_buckets_[i];
            break;
        }
    api_seconds_ += seconds;
    ++api_count_;
}

nlohmann::json Daemon::stats() {
    const auto& layout = cgroups::host_layout();
    nlohmann::json pods = nlohmann::json::array();
    for (const auto& r : pods_->list()) {
        auto s = pod_stats(*pods_, r, layout);
        s["state"] = state_name(r.state());
        s["system"] = r.system;
        pods.push_back(std::move(s));
    }
    nlohmann::json api = {{"requests", nlohmann::json::array()}};
    {
        std::lock_guard lock(api_mu_);
        for (const auto& [key, count] : api_requests_)
            api["requests"].push_back({{"method", key.first}, {"code", key.second}, {"count", count}});
        nlohmann::json buckets = nlohmann::json::array();
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < std::size(kLatencyBuckets); ++i) {
            cumulative += api_buckets_.empty() ? 0 : api_buckets_[i];
            buckets.push_back({{"le", kLatencyBuckets[i]}, {"count", cumulative}});
        }
        api["duration"] = {{"buckets", buckets}, {"sum", api_seconds_}, {"count", api_count_}};
    }
    nlohmann::json plugins = nlohmann::json::array();
    for (const auto& p : plugins_->list())
        plugins.push_back({{"id", p.manifest.id}, {"kind", p.manifest.kind}, {"state", plugin_state_name(p.state)}});
    return {{"time", rfc3339_now()}, {"pods", pods}, {"api", api}, {"plugins", plugins}};
}

void Daemon::wait_for_plugins() {
    std::unique_lock lock(plugins_ready_mu_);
    if (!plugins_ready_cv_.wait_for(lock, std::chrono::seconds(120), [&] { return plugins_ready_; }))
        precondition("the plugins have not started yet");
}

std::vector<std::string> Daemon::networks_of(const PodSpec& pod) const {
    const auto& names = pod.networks.empty() ? config_.default_networks : pod.networks;
    if (names.size() == 1 && (names[0] == "none" || names[0] == "host")) return {};
    return names;
}

std::string Daemon::network_plugin(const std::string& network) const {
    if (const NetworkDef* def = config_.network(network)) return def->plugin;
    // Not in kiln.yaml: the one network plugin may know it (the CNI plugin's confDir).
    std::string only;
    for (const auto& st : plugins_->list())
        if (st.manifest.kind == "network" && st.state == PluginState::started) {
            if (!only.empty()) not_found("no network \"" + network + "\" in kiln.yaml's networks");
            only = st.manifest.id;
        }
    if (only.empty()) not_found("no network \"" + network + "\" in kiln.yaml's networks, and no network plugin is started");
    return only;
}

nlohmann::json Daemon::network_request(const PodSpec& pod, const std::string& netns, std::size_t index,
                                       const std::string& network) const {
    const NetworkDef* def = config_.network(network);
    nlohmann::json ports = nlohmann::json::array();
    if (index == 0)  // the pod's ports are mapped on its first network
        for (const auto& p : pod.ports) {
            nlohmann::json pj = {{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}};
            if (!p.host_ip.empty()) pj["hostIP"] = p.host_ip;
            ports.push_back(std::move(pj));
        }
    return {{"pod", pod.name},
            {"network", network},
            {"netns", netns},
            {"ifname", "eth" + std::to_string(index)},
            {"portMappings", ports},
            {"config", def ? def->config : nlohmann::json()}};
}

nlohmann::json Daemon::attach_networks(const PodSpec& pod, const std::string& netns) {
    nlohmann::json attachments = nlohmann::json::array();
    auto names = networks_of(pod);
    if (names.empty()) return attachments;
    wait_for_plugins();
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::string where = "network " + names[i];
        try {
            std::string plugin = network_plugin(names[i]);
            auto request = network_request(pod, netns, i, names[i]);
            auto t0 = std::chrono::steady_clock::now();
            auto result = plugins_->network_attach(plugin, request);
            double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            result["network"] = names[i];
            result["plugin"] = plugin;
            result["ifname"] = request["ifname"];
            result["attachMs"] = std::round(ms * 1000) / 1000;
            attachments.push_back(std::move(result));
            events_.publish("pod.network.attached", pod.name, {}, {{"network", names[i]}, {"ms", ms}});
        } catch (const std::exception& e) {
            detach_networks(pod, netns, attachments);
            throw Error(Errc::failed_precondition, where + ": " + e.what());
        }
    }
    return attachments;
}

void Daemon::detach_networks(const PodSpec& pod, const std::string& netns, const nlohmann::json& attachments) {
    for (std::size_t k = attachments.size(); k-- > 0;) {
        const auto& a = attachments[k];
        std::string network = a.value("network", "");
        try {
            wait_for_plugins();
            auto request = network_request(pod, netns, k, network);
            request["ifname"] = a.value("ifname", request["ifname"].get<std::string>());
            auto t0 = std::chrono::steady_clock::now();
            plugins_->network_detach(a.value("plugin", ""), request);
            double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            events_.publish("pod.network.detached", pod.name, {}, {{"network", network}, {"ms", ms}});
        } catch (const std::exception& e) {
            log::error("pod " + pod.name + ": detaching network " + network + ": " + e.what());
        }
    }
}

void Daemon::import_images(const std::vector<ImageSource>& images) {
    for (const auto& src : images) {
        try {
            images_->get(src.tag);
            continue;  // already there: an appliance's image is imported once
        } catch (const Error& e) {
            if (e.code() != Errc::not_found) throw;
        }
        try {
            auto img = images_->import(src.path, src.tag);
            log::info("imported image " + img.name + " from " + src.path);
        } catch (const std::exception& e) {
            log::error("importing " + src.path + " as " + src.tag + ": " + e.what());
        }
    }
}

void Daemon::apply_appliance(const std::vector<PodSpec>& pods, const std::vector<PodSpec>& previous) {
    std::set<std::string> wanted;
    for (const auto& p : pods) wanted.insert(p.name);
    // Pods the previous config listed and this one does not are deleted.
    for (const auto& p : previous) {
        if (wanted.count(p.name)) continue;
        try {
            pods_->remove(p.name, true);
            log::info("appliance: deleted pod " + p.name);
        } catch (const Error& e) {
            if (e.code() != Errc::not_found) log::error("appliance: deleting pod " + p.name + ": " + e.what());
        }
    }
    // In order: created when missing, replaced when changed, started when stopped.
    for (const auto& p : pods) {
        try {
            std::optional<PodRecord> existing;
            try {
                existing = pods_->get(p.name);
            } catch (const Error& e) {
                if (e.code() != Errc::not_found) throw;
            }
            if (existing && to_json(existing->spec) != to_json(p)) {
                pods_->remove(p.name, true);
                existing.reset();
                log::info("appliance: replacing pod " + p.name);
            }
            if (!existing) {
                pods_->create(p, true);
                log::info("appliance: started pod " + p.name);
            } else if (existing->state() != State::running) {
                pods_->start(p.name);
                log::info("appliance: started pod " + p.name);
            }
        } catch (const std::exception& e) {
            log::error("appliance: pod " + p.name + ": " + e.what());
        }
    }
}

void Daemon::reload(const Config& next) {
    auto differs = [](const Config& a, const Config& b) {
        return a.state_dir != b.state_dir || a.run_dir != b.run_dir || a.cgroup_parent != b.cgroup_parent ||
               a.socket_path() != b.socket_path();
    };
    if (differs(config_, next)) log::warn("reload: paths and the socket change only when kilnd restarts");
    std::vector<PodSpec> previous = config_.pods;
    config_.pods = next.pods;
    config_.images = next.images;
    import_images(config_.images);
    config_.stop_pods_on_exit = next.stop_pods_on_exit;
    apply_appliance(config_.pods, previous);
}

void Daemon::stop() {
    pods_->shutdown(config_.stop_pods_on_exit);
    events_.close();
    stop_stats();
    if (event_relay_.joinable()) event_relay_.join();
    if (stats_relay_.joinable()) stats_relay_.join();
    plugins_->stop();  // last: pods may still have needed them
}

}  // namespace kiln::daemon
