// JSON -> image-spec types, through the field lists shared with the runtime spec.
#include "core/image/spec.hpp"

#include "core/image/digest.hpp"
#include "core/oci/json_fields.hpp"

namespace kiln::image {

namespace detail = kiln::oci::detail;
using json = nlohmann::json;

bool is_index_type(std::string_view t) { return t == media_type::oci_index || t == media_type::docker_manifest_list; }

bool is_manifest_type(std::string_view t) {
    return t == media_type::oci_manifest || t == media_type::docker_manifest;
}

bool is_config_type(std::string_view t) { return t == media_type::oci_config || t == media_type::docker_config; }

std::optional<Compression> layer_compression(std::string_view t) {
    // Non-distributable ("foreign") layers are plain layers whose blobs a registry may not serve;
    // when an archive carries them they unpack like any other.
    static const std::pair<std::string_view, Compression> kLayers[] = {
        {media_type::oci_layer, Compression::none},
        {media_type::oci_layer_gzip, Compression::gzip},
        {media_type::oci_layer_zstd, Compression::zstd},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::none},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::gzip},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::zstd},
        {"application/vnd.docker.image.rootfs.diff.tar", Compression::none},
        {media_type::docker_layer_gzip, Compression::gzip},
        {"application/vnd.docker.image.rootfs.diff.tar.zstd", Compression::zstd},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Compression::gzip},
    };
    for (const auto& [name, c] : kLayers)
        if (t == name) return c;
    return std::nullopt;
}

std::string_view compression_name(Compression c) {
    switch (c) {
        case Compression::none: return "none";
        case Compression::gzip: return "gzip";
        case Compression::zstd: return "zstd";
    }
    return "none";
}

KILN_JSON_FIELDS(Platform) {
    v.req("architecture", s.architecture);
    v.req("os", s.os);
    v("variant", s.variant);
}

KILN_JSON_FIELDS(Descriptor) {
    v.req("mediaType", s.media_type);
    v.req("digest", s.digest);
    v.req("size", s.size);
    v("platform", s.platform);
    v("annotations", s.annotations);
}

KILN_JSON_FIELDS(Index) { v.req("manifests", s.manifests); }

KILN_JSON_FIELDS(Manifest) {
    v("mediaType", s.media_type);
    v.req("config", s.config);
    v.req("layers", s.layers);
}

// ExposedPorts and Volumes are objects whose values are always {}: only the keys mean anything.
struct KeySet {
    std::vector<std::string> keys;
};

void read(const json& j, const std::string& path, KeySet& out) {
    if (!j.is_object()) detail::wrong_type(j, path, "an object");
    out.keys.clear();
    for (auto it = j.begin(); it != j.end(); ++it) out.keys.push_back(it.key());
}

struct RootFs {
    std::string type;
    std::vector<std::string> diff_ids;
};

KILN_JSON_FIELDS(RootFs) {
    v.req("type", s.type);
    v.req("diff_ids", s.diff_ids);
}

namespace {

json parse_json(std::string_view text, const std::string& source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        invalid(source + ": malformed JSON: " + e.what());
    }
    if (!j.is_object()) invalid(source + ": expected a JSON object, got " + detail::json_type_name(j));
    return j;
}

// Runs `body` and puts `source` in front of the field path of any error it raises.
template <class F>
void with_source(const std::string& source, F&& body) {
    try {
        body();
    } catch (const Error& e) {
        throw Error(e.code(), source + ": " + e.what());
    }
}

void check_schema_version(const json& j) {
    int version = 0;
    auto it = j.find("schemaVersion");
    if (it == j.end()) detail::bad_field("schemaVersion", "is required");
    detail::read(*it, "schemaVersion", version);
    if (version != 2) detail::bad_field("schemaVersion", "must be 2, got " + std::to_string(version));
}

void check_digest(const Descriptor& d, const std::string& path) { digest_hex(d.digest, path + ".digest"); }

void read_image_config(const json& j, ImageConfig& c) {
    if (!j.is_object()) detail::wrong_type(j, "config", "an object");
    detail::Reader v{j, "config"};
    KeySet ports, volumes;
    v("Entrypoint", c.entrypoint);
    v("Cmd", c.cmd);
    v("Env", c.env);
    v("WorkingDir", c.working_dir);
    v("User", c.user);
    v("StopSignal", c.stop_signal);
    v("ExposedPorts", ports);
    v("Volumes", volumes);
    v("Labels", c.labels);
    c.exposed_ports = std::move(ports.keys);
    c.volumes = std::move(volumes.keys);
    for (size_t i = 0; i < c.env.size(); ++i)
        if (c.env[i].find('=') == std::string::npos || c.env[i].front() == '=')
            detail::bad_field("config.Env[" + std::to_string(i) + "]", "\"" + c.env[i] + "\" is not NAME=VALUE");
}

}  // namespace

Index parse_index(std::string_view text, const std::string& source) {
    json j = parse_json(text, source);
    Index index;
    with_source(source, [&] {
        check_schema_version(j);
        detail::read(j, "", index);
        for (size_t i = 0; i < index.manifests.size(); ++i)
            check_digest(index.manifests[i], "manifests[" + std::to_string(i) + "]");
    });
    return index;
}

Manifest parse_manifest(std::string_view text, const std::string& source) {
    json j = parse_json(text, source);
    Manifest m;
    with_source(source, [&] {
        check_schema_version(j);
        detail::read(j, "", m);
        if (!m.media_type.empty() && !is_manifest_type(m.media_type))
            detail::bad_field("mediaType", "\"" + m.media_type + "\" is not an image manifest");
        check_digest(m.config, "config");
        if (!is_config_type(m.config.media_type))
            detail::bad_field("config.mediaType", "\"" + m.config.media_type + "\" is not an image config");
        for (size_t i = 0; i < m.layers.size(); ++i) {
            std::string path = "layers[" + std::to_string(i) + "]";
            check_digest(m.layers[i], path);
            if (!layer_compression(m.layers[i].media_type))
                detail::bad_field(path + ".mediaType", "\"" + m.layers[i].media_type + "\" is not a layer type kiln unpacks");
        }
    });
    return m;
}

ConfigBlob parse_config(std::string_view text, const std::string& source) {
    json j = parse_json(text, source);
    ConfigBlob blob;
    with_source(source, [&] {
        detail::Reader v{j, ""};
        v.req("architecture", blob.architecture);
        v.req("os", blob.os);
        v("variant", blob.variant);
        auto cfg = j.find("config");
        if (cfg != j.end() && !cfg->is_null()) read_image_config(*cfg, blob.config);
        RootFs rootfs;
        v.req("rootfs", rootfs);
        if (rootfs.type != "layers") detail::bad_field("rootfs.type", "must be \"layers\", got \"" + rootfs.type + "\"");
        for (size_t i = 0; i < rootfs.diff_ids.size(); ++i)
            digest_hex(rootfs.diff_ids[i], "rootfs.diff_ids[" + std::to_string(i) + "]");
        blob.diff_ids = std::move(rootfs.diff_ids);
    });
    return blob;
}

}  // namespace kiln::image
