// Loading plugins with Boost.DLL: the ABI version is asked of the library before anything else
// is called, the factory then makes the plugin, and the kind the manifest states must be the
// interface the object implements.
#include "core/daemon/plugin_host.hpp"

#include <algorithm>
#include <set>

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/import.hpp>
#include <boost/dll/shared_library.hpp>
#include <kiln/plugin.hpp>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"

namespace kiln::daemon {

namespace {

std::vector<std::string> list_subdirs(const std::string& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.is_directory(ec)) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

class Context : public sdk::HostContext {
public:
    Context(const PluginManifest& manifest, std::string config, std::string state_dir, std::string socket, PluginApiFn api,
            const PluginContainerHooks& hooks)
        : manifest_(manifest), id_(manifest.id), config_(std::move(config)), state_dir_(std::move(state_dir)),
          socket_(std::move(socket)),
          api_access_(manifest.has_container && manifest.container.api_access), api_(std::move(api)), hooks_(hooks) {}

    void log(sdk::LogLevel level, const std::string& message) override {
        std::string text = "plugin " + id_ + ": " + message;
        switch (level) {
            case sdk::LogLevel::debug: log::debug(text); break;
            case sdk::LogLevel::info: log::info(text); break;
            case sdk::LogLevel::warn: log::warn(text); break;
            case sdk::LogLevel::error: log::error(text); break;
        }
    }
    std::string config_json() const override { return config_; }
    std::string api_socket() const override { return socket_; }
    std::string state_dir() const override { return state_dir_; }
    sdk::ExecResult exec(const std::vector<std::string>& argv, const std::string& input) override {
        if (!manifest_.has_container) throw std::runtime_error("plugin " + id_ + " has no container (plugin.yaml) to exec in");
        if (!hooks_.exec) throw std::runtime_error("plugin " + id_ + ": this host runs no plugin containers");
        try {
            auto [code, out, err] = hooks_.exec(manifest_, argv, input);
            return {code, out, err};
        } catch (const std::exception& e) {
            throw std::runtime_error("plugin " + id_ + ": exec in its container: " + e.what());
        }
    }
    sdk::ApiResponse api(const std::string& method, const std::string& path, const std::string& body) override {
        if (!api_access_ || !api_)
            throw std::runtime_error("plugin " + id_ + " has no API access (container.apiAccess in its plugin.yaml)");
        auto [status, text] = api_(method, path, body);
        return {status, text};
    }

private:
    PluginManifest manifest_;
    std::string id_, config_, state_dir_, socket_;
    bool api_access_;
    PluginApiFn api_;
    const PluginContainerHooks& hooks_;
};

bool implements(const std::string& kind, sdk::Plugin* p) {
    if (kind == "network") return dynamic_cast<sdk::NetworkPlugin*>(p) != nullptr;
    if (kind == "isolator") return dynamic_cast<sdk::IsolatorPlugin*>(p) != nullptr;
    if (kind == "instrumentation") return dynamic_cast<sdk::InstrumentationPlugin*>(p) != nullptr;
    return false;
}

}  // namespace

std::string_view plugin_state_name(PluginState s) {
    switch (s) {
        case PluginState::loaded: return "loaded";
        case PluginState::started: return "started";
        case PluginState::failed: return "failed";
        case PluginState::stopped: return "stopped";
        case PluginState::disabled: return "disabled";
    }
    return "unknown";
}

nlohmann::json to_json(const PluginStatus& s) {
    const auto& m = s.manifest;
    nlohmann::json j = {{"id", m.id},         {"kind", m.kind}, {"version", m.version}, {"abi", m.abi},
                        {"state", plugin_state_name(s.state)}, {"dir", m.dir},  {"required", s.required},
                        {"requires", m.requires_}};
    if (!m.library.empty()) j["library"] = m.library;
    if (!s.error.empty()) j["error"] = s.error;
    if (m.has_container) {
        nlohmann::json mounts = nlohmann::json::array();
        for (const auto& mt : m.container.mounts)
            mounts.push_back({{"source", mt.source}, {"destination", mt.destination}, {"readonly", mt.readonly}});
        j["container"] = {{"image", m.container.image},
                          {"hostNamespaces", m.container.host_namespaces},
                          {"capabilities", m.container.capabilities},
                          {"mounts", mounts},
                          {"apiAccess", m.container.api_access}};
        if (!m.container.image_path.empty()) j["container"]["imagePath"] = m.container.image_path;
        if (!m.container.writable_paths.empty()) j["container"]["writablePaths"] = m.container.writable_paths;
    }
    return j;
}

struct PluginHost::Loaded {
    boost::dll::shared_library library;
    std::unique_ptr<Context> context;
    std::unique_ptr<sdk::Plugin> plugin;
};

PluginHost::PluginHost(const Config& config, std::string state_dir, std::string base_dir, PluginApiFn api)
    : config_(config), state_dir_(std::move(state_dir)), base_dir_(std::move(base_dir)), api_(std::move(api)) {}

PluginHost::~PluginHost() { stop(); }

void PluginHost::load_one(PluginStatus& status) {
    const PluginManifest& m = status.manifest;
    if (m.abi != sdk::kAbiVersion)
        throw Error(Errc::failed_precondition, "its plugin.yaml states ABI version " + std::to_string(m.abi) +
                                                   "; this kilnd loads version " + std::to_string(sdk::kAbiVersion));
    if (!path_exists(m.library)) throw Error(Errc::not_found, "its library " + m.library + " does not exist");
    auto loaded = std::make_unique<Loaded>();
    try {
        loaded->library.load(m.library, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        throw Error(Errc::failed_precondition, "loading " + m.library + ": " + e.what());
    }
    if (!loaded->library.has("kiln_plugin_abi") || !loaded->library.has("kiln_plugin_create"))
        throw Error(Errc::failed_precondition, m.library + " exports no kiln plugin (KILN_PLUGIN)");
    std::uint32_t abi = loaded->library.get_alias<std::uint32_t()>("kiln_plugin_abi")();
    if (abi != sdk::kAbiVersion)
        throw Error(Errc::failed_precondition, m.library + " was built for ABI version " + std::to_string(abi) +
                                                   "; this kilnd loads version " + std::to_string(sdk::kAbiVersion));
    std::string dir = state_dir_ + "/plugins/" + m.id;
    mkdir_all(dir, 0700);
    loaded->context = std::make_unique<Context>(m, status.config.dump(), dir, config_.socket_path(), api_, hooks_);
    auto create = loaded->library.get_alias<sdk::Plugin*(sdk::HostContext&)>("kiln_plugin_create");
    try {
        loaded->plugin.reset(create(*loaded->context));
    } catch (const std::exception& e) {
        throw Error(Errc::failed_precondition, "creating it: " + std::string(e.what()));
    }
    if (!loaded->plugin) throw Error(Errc::failed_precondition, "its factory returned nothing");
    if (!implements(m.kind, loaded->plugin.get()))
        throw Error(Errc::failed_precondition, "its plugin.yaml says kind " + m.kind + ", but the library's plugin is not a " +
                                                   m.kind + " plugin");
    status.state = PluginState::loaded;
    loaded_[m.id] = std::move(loaded);
}

void PluginHost::start() {
    std::unique_lock lock(mu_);
    // Discovery: every subdirectory with a plugin.yaml; the first of an id wins.
    std::vector<PluginStatus> found;
    std::map<std::string, std::size_t> by_id;
    for (const auto& configured : config_.plugin_dirs) {
        std::string dir = configured[0] == '/' ? configured
                                               : std::filesystem::weakly_canonical(base_dir_ + "/" + configured).string();
        for (const auto& sub : list_subdirs(dir)) {
            if (!path_exists(sub + "/plugin.yaml")) continue;
            PluginStatus st;
            try {
                st.manifest = load_plugin_manifest(sub);
            } catch (const Error& e) {
                st.manifest.id = sub.substr(sub.find_last_of('/') + 1);
                st.manifest.dir = sub;
                st.error = e.what();
            }
            if (auto it = by_id.find(st.manifest.id); it != by_id.end()) {
                st.error = "id " + st.manifest.id + " is already that of the plugin in " + found[it->second].manifest.dir;
                st.manifest.id = st.manifest.id + "@" + sub;
            } else {
                by_id[st.manifest.id] = found.size();
            }
            found.push_back(std::move(st));
        }
    }
    for (auto& st : found) {
        if (st.error.empty() &&
            std::count(config_.disabled_plugins.begin(), config_.disabled_plugins.end(), st.manifest.id)) {
            st.state = PluginState::disabled;
            st.error = "disabled in kiln.yaml (disabledPlugins)";
        }
        st.required = std::count(config_.required_plugins.begin(), config_.required_plugins.end(), st.manifest.id) > 0;
        st.config = st.manifest.config;
        if (auto it = config_.plugins.find(st.manifest.id); it != config_.plugins.end() && it->is_object())
            st.config.merge_patch(*it);
    }
    for (const auto& id : config_.required_plugins)
        if (!by_id.count(id)) throw Error(Errc::failed_precondition, "required plugin " + id + " is not installed in any of pluginDirs");

    // Order: a plugin after everything it requires (by id, or every plugin of a kind).
    std::map<std::string, std::vector<std::string>> deps;
    for (auto& st : found) {
        if (!st.error.empty()) continue;
        for (const auto& req : st.manifest.requires_) {
            std::vector<std::string> match;
            if (req.starts_with("kind:")) {
                for (const auto& other : found)
                    if (other.error.empty() && other.manifest.kind == req.substr(5) && other.manifest.id != st.manifest.id)
                        match.push_back(other.manifest.id);
            } else if (by_id.count(req)) {
                match.push_back(req);  // if that one fails, this one fails with it below
            }
            if (match.empty()) {
                st.error = "it requires " + req + ", which is not installed";
                break;
            }
            deps[st.manifest.id].insert(deps[st.manifest.id].end(), match.begin(), match.end());
        }
    }
    std::vector<std::string> order;
    std::map<std::string, int> mark;  // 1 visiting, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& id) {
        if (mark[id] == 2) return;
        if (mark[id] == 1) {
            auto from = std::find(stack.begin(), stack.end(), id);
            std::string cycle;
            for (auto it = from; it != stack.end(); ++it) cycle += *it + " -> ";
            cycle += id;
            for (auto it = from; it != stack.end(); ++it) {
                auto& st = found[by_id[*it]];
                if (st.error.empty()) st.error = "its requirements form a cycle: " + cycle;
            }
            return;
        }
        mark[id] = 1;
        stack.push_back(id);
        for (const auto& d : deps[id]) visit(d);
        stack.pop_back();
        mark[id] = 2;
        order.push_back(id);
    };
    for (const auto& st : found)
        if (st.error.empty()) visit(st.manifest.id);

    // Load and start in that order; a plugin whose requirement failed fails too.
    std::map<std::string, PluginStatus*> status_of;
    for (auto& st : found) status_of[st.manifest.id] = &st;
    for (const auto& id : order) {
        PluginStatus& st = *status_of[id];
        if (!st.error.empty()) continue;
        for (const auto& d : deps[id])
            if (status_of[d]->state != PluginState::started) {
                st.error = "it requires " + d + ", which failed";
                break;
            }
        if (!st.error.empty()) continue;
        try {
            if (st.manifest.has_container) {
                if (!hooks_.ensure) throw Error(Errc::failed_precondition, "this host runs no plugin containers");
                try {
                    hooks_.ensure(st.manifest);
                } catch (const std::exception& e) {
                    throw Error(Errc::failed_precondition, std::string("its container: ") + e.what());
                }
            }
            load_one(st);
            loaded_[id]->plugin->start();
            st.state = PluginState::started;
            start_order_.push_back(id);
            log::info("plugin " + id + " " + st.manifest.version + " (" + st.manifest.kind + ") started");
        } catch (const std::exception& e) {
            st.error = e.what();
            st.state = PluginState::failed;
            loaded_.erase(id);
            if (st.manifest.has_container && hooks_.release) try {
                    hooks_.release(st.manifest);
                } catch (const std::exception& x) {
                    log::warn("plugin " + id + ": removing its container: " + x.what());
                }
        }
    }
    for (auto& st : found)
        if (!st.error.empty() && st.state != PluginState::disabled) {
            st.state = PluginState::failed;
            log::error("plugin " + st.manifest.id + " failed: " + st.error);
        }
    // Listed in start order, then the failed ones as found.
    plugins_.clear();
    for (const auto& id : start_order_) plugins_.push_back(*status_of[id]);
    for (auto& st : found)
        if (st.state == PluginState::failed || st.state == PluginState::disabled) plugins_.push_back(st);
    for (const auto& st : plugins_)
        if (st.required && st.state == PluginState::failed) {
            std::string why = "required plugin " + st.manifest.id + " failed: " + st.error;
            stop_locked();
            throw Error(Errc::failed_precondition, why);
        }
}

void PluginHost::stop() {
    std::unique_lock lock(mu_);
    stop_locked();
}

void PluginHost::stop_locked() {
    for (auto it = start_order_.rbegin(); it != start_order_.rend(); ++it) {
        auto found = loaded_.find(*it);
        if (found == loaded_.end()) continue;
        try {
            found->second->plugin->stop();
        } catch (const std::exception& e) {
            log::warn("plugin " + *it + ": stopping: " + e.what());
        }
        // The object goes before the library that holds its code.
        found->second->plugin.reset();
        loaded_.erase(found);
        for (auto& st : plugins_)
            if (st.manifest.id == *it) st.state = PluginState::stopped;
    }
    start_order_.clear();
}

void PluginHost::check_isolators(const PodSpec& pod) const {
    std::shared_lock lock(mu_);
    for (std::size_t i = 0; i < pod.isolators.size(); ++i) {
        const std::string& name = pod.isolators[i].name;
        auto it = loaded_.find(name);
        if (it != loaded_.end() && dynamic_cast<sdk::IsolatorPlugin*>(it->second->plugin.get())) continue;
        std::string started;
        for (const auto& st : plugins_)
            if (st.state == PluginState::started && st.manifest.kind == "isolator")
                started += (started.empty() ? "" : ", ") + st.manifest.id;
        std::string why = "no isolator plugin \"" + name + "\" is started";
        for (const auto& st : plugins_)
            if (st.manifest.id == name && st.state == PluginState::failed) why = "isolator plugin \"" + name + "\" failed: " + st.error;
        invalid("isolators[" + std::to_string(i) + "].name: " + why + " (started: " + (started.empty() ? "none" : started) + ")");
    }
}

std::vector<const IsolatorRequest*> PluginHost::ordered_isolators(const PodSpec& pod) {
    std::vector<const IsolatorRequest*> ordered;
    for (const auto& req : pod.isolators) ordered.push_back(&req);
    auto rank = [](const std::string& name) {
        for (std::size_t i = 0; i < std::size(kIsolatorOrder); ++i)
            if (name == kIsolatorOrder[i]) return i;
        return std::size(kIsolatorOrder);
    };
    std::stable_sort(ordered.begin(), ordered.end(), [&](auto* a, auto* b) { return rank(a->name) < rank(b->name); });
    return ordered;
}

nlohmann::json PluginHost::sandbox_settings(const PodSpec& pod) {
    nlohmann::json merged = nlohmann::json::object();
    // Without isolators, nothing to ask (and no lock: a plugin's own pod is made while the host
    // starts it, under the exclusive lock).
    if (pod.isolators.empty()) return merged;
    std::shared_lock lock(mu_);
    for (const IsolatorRequest* req : ordered_isolators(pod)) {
        auto it = loaded_.find(req->name);
        auto* iso = it == loaded_.end() ? nullptr : dynamic_cast<sdk::IsolatorPlugin*>(it->second->plugin.get());
        if (!iso) throw Error(Errc::failed_precondition, "isolator " + req->name + " is not started");
        std::string answer;
        try {
            answer = iso->sandbox(nlohmann::json{{"pod", pod.name}, {"config", req->config}}.dump());
        } catch (const std::exception& e) {
            throw Error(Errc::failed_precondition, "isolator " + req->name + ": " + e.what());
        }
        auto j = nlohmann::json::parse(answer, nullptr, false);
        if (!j.is_object())
            throw Error(Errc::failed_precondition, "isolator " + req->name + " answered sandbox() with no JSON object");
        for (auto& [key, value] : j.items()) {
            if (merged.contains(key))
                throw Error(Errc::failed_precondition, "isolator " + req->name + " asks for the sandbox's " + key +
                                                           ", which another isolator of the pod already set");
            merged[key] = value;
        }
    }
    return merged;
}

void PluginHost::release_pod(const PodSpec& pod) {
    if (pod.isolators.empty()) return;
    std::shared_lock lock(mu_);
    for (const IsolatorRequest* req : ordered_isolators(pod)) {
        auto it = loaded_.find(req->name);
        auto* iso = it == loaded_.end() ? nullptr : dynamic_cast<sdk::IsolatorPlugin*>(it->second->plugin.get());
        if (!iso) continue;
        try {
            iso->release(nlohmann::json{{"pod", pod.name}}.dump());
        } catch (const std::exception& e) {
            log::warn("isolator " + req->name + ": release " + pod.name + ": " + e.what());
        }
    }
}

nlohmann::json PluginHost::apply_isolators(const PodSpec& pod, const ContainerSpec& container, nlohmann::json spec) {
    if (pod.isolators.empty()) return spec;
    auto ordered = ordered_isolators(pod);
    std::shared_lock lock(mu_);
    for (const IsolatorRequest* req : ordered) {
        auto it = loaded_.find(req->name);
        auto* iso = it == loaded_.end() ? nullptr : dynamic_cast<sdk::IsolatorPlugin*>(it->second->plugin.get());
        if (!iso) throw Error(Errc::failed_precondition, "isolator " + req->name + " is not started");
        nlohmann::json request = {{"pod", pod.name}, {"container", container.name}, {"config", req->config}};
        std::string edited;
        try {
            edited = iso->edit_spec(spec.dump(), request.dump());
        } catch (const std::exception& e) {
            throw Error(Errc::failed_precondition, "isolator " + req->name + ": " + e.what());
        }
        auto next = nlohmann::json::parse(edited, nullptr, false);
        if (!next.is_object()) throw Error(Errc::failed_precondition, "isolator " + req->name + " returned a spec that is not a JSON object");
        spec = std::move(next);
    }
    return spec;
}

void PluginHost::to_instrumentation(const char* what, const std::function<void(sdk::InstrumentationPlugin&)>& fn) {
    std::shared_lock lock(mu_);
    for (const auto& id : start_order_) {
        auto it = loaded_.find(id);
        auto* inst = it == loaded_.end() ? nullptr : dynamic_cast<sdk::InstrumentationPlugin*>(it->second->plugin.get());
        if (!inst) continue;
        try {
            fn(*inst);
        } catch (const std::exception& e) {
            log::warn("plugin " + id + ": " + what + ": " + e.what());
        }
    }
}

void PluginHost::deliver_event(const nlohmann::json& event) {
    std::string text = event.dump();
    to_instrumentation("on_event", [&](sdk::InstrumentationPlugin& p) { p.on_event(text); });
}

std::vector<PluginStatus> PluginHost::list() const {
    std::shared_lock lock(mu_);
    return plugins_;
}

void PluginHost::deliver_stats(const nlohmann::json& stats) {
    std::string text = stats.dump();
    to_instrumentation("on_stats", [&](sdk::InstrumentationPlugin& p) { p.on_stats(text); });
}

bool PluginHost::has_instrumentation() const {
    std::shared_lock lock(mu_);
    for (const auto& [id, l] : loaded_)
        if (dynamic_cast<sdk::InstrumentationPlugin*>(l->plugin.get())) return true;
    return false;
}

template <class Fn>
auto PluginHost::with_network(const std::string& plugin, Fn fn) {
    std::shared_lock lock(mu_);
    auto it = loaded_.find(plugin);
    auto* net = it == loaded_.end() ? nullptr : dynamic_cast<sdk::NetworkPlugin*>(it->second->plugin.get());
    if (!net) {
        std::string why = "no network plugin \"" + plugin + "\" is installed";
        for (const auto& st : plugins_)
            if (st.manifest.id == plugin)
                why = st.manifest.kind != "network" && st.error.empty()
                          ? "plugin \"" + plugin + "\" is a " + st.manifest.kind + " plugin, not a network plugin"
                          : "network plugin \"" + plugin + "\" is " + std::string(plugin_state_name(st.state)) +
                                (st.error.empty() ? "" : ": " + st.error);
        throw Error(Errc::failed_precondition, why);
    }
    try {
        return fn(*net);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(Errc::failed_precondition, "network plugin " + plugin + ": " + e.what());
    }
}

nlohmann::json PluginHost::network_attach(const std::string& plugin, const nlohmann::json& request) {
    return with_network(plugin, [&](sdk::NetworkPlugin& net) {
        std::string text = net.attach(request.dump());
        auto result = nlohmann::json::parse(text, nullptr, false);
        if (!result.is_object()) {
            // What it made goes again: the pod fails without a half-made attachment.
            try {
                net.detach(request.dump());
            } catch (const std::exception&) {
            }
            throw Error(Errc::failed_precondition, "network plugin " + plugin + " answered attach with no JSON object: " +
                                                       text.substr(0, 200));
        }
        return result;
    });
}

void PluginHost::network_detach(const std::string& plugin, const nlohmann::json& request) {
    with_network(plugin, [&](sdk::NetworkPlugin& net) {
        net.detach(request.dump());
        return 0;
    });
}

void PluginHost::network_check(const std::string& plugin, const nlohmann::json& request) {
    with_network(plugin, [&](sdk::NetworkPlugin& net) {
        net.check(request.dump());
        return 0;
    });
}

void PluginHost::network_gc(const nlohmann::json& attachments) {
    std::vector<std::string> ids;
    {
        std::shared_lock lock(mu_);
        for (const auto& id : start_order_)
            if (dynamic_cast<sdk::NetworkPlugin*>(loaded_.at(id)->plugin.get())) ids.push_back(id);
    }
    for (const auto& id : ids) {
        nlohmann::json own = nlohmann::json::array();
        for (const auto& a : attachments)
            if (a.value("plugin", "") == id) own.push_back({{"pod", a["pod"]}, {"network", a["network"]}, {"ifname", a["ifname"]}});
        try {
            with_network(id, [&](sdk::NetworkPlugin& net) {
                net.gc(nlohmann::json{{"attachments", own}}.dump());
                return 0;
            });
        } catch (const std::exception& e) {
            log::warn("plugin " + id + ": gc: " + e.what());
        }
    }
}

std::optional<PluginStatus> PluginHost::get(const std::string& id) const {
    std::shared_lock lock(mu_);
    for (const auto& st : plugins_)
        if (st.manifest.id == id) return st;
    return std::nullopt;
}

}  // namespace kiln::daemon
