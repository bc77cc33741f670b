// The OCI image-spec documents kiln reads (image index, image manifest, image config) and their
// Docker schema-2 twins, as plain types. Parsing checks types and required fields and names the
// JSON path of the first bad one, prefixed by where the document came from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::image {

namespace media_type {
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view oci_layer_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view oci_layer_zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view docker_manifest_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_config = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view docker_layer_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media_type

enum class Compression { none, gzip, zstd };

bool is_index_type(std::string_view media_type);
bool is_manifest_type(std::string_view media_type);
bool is_config_type(std::string_view media_type);
// The compression a layer media type announces; nullopt when it is not a layer type kiln unpacks.
std::optional<Compression> layer_compression(std::string_view media_type);
std::string_view compression_name(Compression c);

struct Platform {
    std::string architecture;
    std::string os;
    std::string variant;
};

struct Descriptor {
    std::string media_type;
    std::string digest;  // checked: sha256:<64 lowercase hex>
    std::uint64_t size = 0;
    std::optional<Platform> platform;
    std::map<std::string, std::string> annotations;
};

struct Index {
    std::vector<Descriptor> manifests;
};

struct Manifest {
    std::string media_type;  // as the document states it, may be empty
    Descriptor config;
    std::vector<Descriptor> layers;
};

// The "config" object of the image config blob: the defaults of a container run from the image.
struct ImageConfig {
    std::vector<std::string> entrypoint, cmd, env;
    std::string working_dir, user, stop_signal;
    std::vector<std::string> exposed_ports, volumes;  // the keys of the spec's objects
    std::map<std::string, std::string> labels;
};

struct ConfigBlob {
    std::string os, architecture, variant;
    ImageConfig config;
    std::vector<std::string> diff_ids;  // rootfs.diff_ids, bottom layer first
};

// `source` names the document in errors, e.g. "index.json" or "manifest sha256:ab12...".
Index parse_index(std::string_view text, const std::string& source);
Manifest parse_manifest(std::string_view text, const std::string& source);
ConfigBlob parse_config(std::string_view text, const std::string& source);

}  // namespace kiln::image
