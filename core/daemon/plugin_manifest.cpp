#include "core/daemon/plugin_manifest.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "core/daemon/field_reader.hpp"
#include "core/daemon/pod_spec.hpp"
#include "core/daemon/yaml_tree.hpp"
#include "core/sys/file.hpp"

namespace kiln::daemon {

using namespace detail;
using json = nlohmann::json;

namespace {

void read_container(const json& v, const std::string& path, const std::string& dir, PluginContainer& c) {
    ObjectReader r(v, path, {"image", "imagePath", "hostNamespaces", "capabilities", "mounts", "apiAccess", "command",
                              "writablePaths"});
    c.image = read_non_empty_string(r.require("image"), r.path("image"));
    if (auto* x = r.get("imagePath")) {
        std::string p = read_non_empty_string(*x, r.path("imagePath"));
        if (p.find("..") != std::string::npos) fail(r.path("imagePath"), shown(p) + " may not have a \"..\" in it");
        c.image_path = p[0] == '/' ? p : dir + "/" + p;
    }
    if (auto* x = r.get("hostNamespaces")) {
        c.host_namespaces = read_string_array(*x, r.path("hostNamespaces"));
        for (std::size_t i = 0; i < c.host_namespaces.size(); ++i) {
            const auto& ns = c.host_namespaces[i];
            if (ns != "net" && ns != "pid" && ns != "ipc" && ns != "uts")
                fail(index_path(r.path("hostNamespaces"), i), shown(ns) + " is not one of net, pid, ipc, uts");
        }
    }
    if (auto* x = r.get("capabilities")) {
        c.capabilities = read_string_array(*x, r.path("capabilities"));
        for (std::size_t i = 0; i < c.capabilities.size(); ++i)
            if (!c.capabilities[i].starts_with("CAP_"))
                fail(index_path(r.path("capabilities"), i), shown(c.capabilities[i]) + " is not a capability name (CAP_...)");
    }
    if (auto* x = r.get("mounts")) {
        if (!x->is_array()) wrong_type(*x, r.path("mounts"), "an array of {source, destination, readonly}");
        for (std::size_t i = 0; i < x->size(); ++i) {
            std::string mp = index_path(r.path("mounts"), i);
            ObjectReader m((*x)[i], mp, {"source", "destination", "readonly"});
            PluginMount pm;
            // ${stateDir} is the plugin's state dir (kept across restarts), ${pluginDir} its own.
            const json& source = m.require("source");
            std::string text = source.is_string() ? source.get<std::string>() : "";
            if (text.starts_with("${pluginDir}")) {
                pm.source = dir + text.substr(12);
            } else if (text.starts_with("${stateDir}")) {
                pm.source = text;
            } else {
                pm.source = read_absolute_path(source, m.path("source"));
            }
            if (pm.source.find("/../") != std::string::npos || pm.source.ends_with("/.."))
                fail(m.path("source"), shown(text) + " may not have a \"..\" in it");
            pm.destination = read_absolute_path(m.require("destination"), m.path("destination"));
            if (auto* y = m.get("readonly")) pm.readonly = read_bool(*y, m.path("readonly"));
            c.mounts.push_back(std::move(pm));
        }
    }
    if (auto* x = r.get("writablePaths")) {
        c.writable_paths = read_string_array(*x, r.path("writablePaths"));
        for (std::size_t i = 0; i < c.writable_paths.size(); ++i)
            if (!c.writable_paths[i].starts_with("/proc/") && !c.writable_paths[i].starts_with("/sys"))
                fail(index_path(r.path("writablePaths"), i), shown(c.writable_paths[i]) + " is not under /proc or /sys");
    }
    if (auto* x = r.get("apiAccess")) c.api_access = read_bool(*x, r.path("apiAccess"));
    if (auto* x = r.get("command")) c.command = read_string_array(*x, r.path("command"));
}

void read_manifest(const json& v, const std::string& dir, PluginManifest& m) {
    ObjectReader r(v, "", {"id", "kind", "version", "abi", "library", "requires", "config", "container"});
    m.id = read_non_empty_string(r.require("id"), r.path("id"));
    if (!is_dns_label(m.id)) fail(r.path("id"), shown(m.id) + " is not a DNS label (a-z, 0-9 and '-', at most 63)");
    m.kind = read_non_empty_string(r.require("kind"), r.path("kind"));
    if (std::none_of(std::begin(kPluginKinds), std::end(kPluginKinds), [&](const char* k) { return m.kind == k; }))
        fail(r.path("kind"), shown(m.kind) + " is not one of network, isolator, instrumentation");
    const json& version = r.require("version");
    m.version = version.is_string() ? version.get<std::string>() : version.is_number() ? version.dump() : "";
    if (m.version.empty()) wrong_type(version, r.path("version"), "a version string");
    m.abi = static_cast<std::uint32_t>(read_int(r.require("abi"), r.path("abi"), 1, 1 << 20));
    std::string lib = read_non_empty_string(r.require("library"), r.path("library"));
    if (lib.find("..") != std::string::npos) fail(r.path("library"), shown(lib) + " may not have a \"..\" in it");
    m.library = lib[0] == '/' ? lib : dir + "/" + lib;
    if (auto* x = r.get("requires")) m.requires_ = read_string_array(*x, r.path("requires"));
    for (std::size_t i = 0; i < m.requires_.size(); ++i) {
        const std::string& req = m.requires_[i];
        if (req.starts_with("kind:")) {
            std::string k = req.substr(5);
            if (std::none_of(std::begin(kPluginKinds), std::end(kPluginKinds), [&](const char* kk) { return k == kk; }))
                fail(index_path(r.path("requires"), i), shown(req) + ": no such kind (network, isolator, instrumentation)");
        } else if (!is_dns_label(req)) {
            fail(index_path(r.path("requires"), i), shown(req) + " is neither a plugin id nor kind:<kind>");
        }
    }
    if (auto* x = r.get("config")) {
        if (!x->is_object()) wrong_type(*x, r.path("config"), "a map (the plugin's default config)");
        m.config = *x;
    }
    if (auto* x = r.get("container")) {
        m.has_container = true;
        read_container(*x, r.path("container"), dir, m.container);
    }
    m.dir = dir;
}

}  // namespace

PluginManifest parse_plugin_manifest(const std::string& text, const std::string& source, const std::string& dir) {
    YAML::Node doc;
    try {
        doc = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        invalid(located(source, e.mark.line < 0 ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg));
    }
    PluginManifest m;
    SourceMap lines;
    try {
        if (!doc.IsMap()) fail("", "must be a map (id, kind, version, abi, library, ...)");
        read_manifest(yaml_to_json(doc, "", lines), dir, m);
    } catch (const FieldError& e) {
        invalid(located(source, e.line() ? e.line() : lines.line_of(e.path()), e.what()));
    }
    return m;
}

PluginManifest load_plugin_manifest(const std::string& dir) {
    std::string path = dir + "/plugin.yaml";
    return parse_plugin_manifest(read_file(path), path, dir);
}

}  // namespace kiln::daemon
