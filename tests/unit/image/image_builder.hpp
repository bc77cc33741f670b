// Test-only: builds small OCI images in code. Layers are tarballs written with libarchive from an
// entry list (so tests can also write what no honest tool would: "../x", absolute names, links
// out of the layer); blobs, manifests, configs and index.json are written by hand into a layout
// directory, which pack() can turn into an oci-archive.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/image/digest.hpp"
#include "core/image/spec.hpp"

namespace kiln::image::testing {

using json = nlohmann::json;

struct Entry {
    std::string name;
    char type = 'f';     // f file, d dir, l symlink, h hard link, c char device, b block device, p fifo
    std::string data;    // file content, or the target of a link
    mode_t mode = 0644;
    std::int64_t uid = 0, gid = 0;
    std::int64_t mtime = 1700000000;
    std::map<std::string, std::string> xattrs;
    unsigned major = 0, minor = 0;
};

inline Entry file(std::string name, std::string data = "", mode_t mode = 0644) {
    return Entry{std::move(name), 'f', std::move(data), mode};
}
inline Entry dir(std::string name, mode_t mode = 0755) { return Entry{std::move(name), 'd', "", mode}; }
inline Entry symlink(std::string name, std::string target) {
    return Entry{std::move(name), 'l', std::move(target), 0777};
}
inline Entry hardlink(std::string name, std::string target) {
    return Entry{std::move(name), 'h', std::move(target), 0644};
}

namespace detail {

inline la_ssize_t append(struct archive*, void* out, const void* buf, size_t n) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
}

inline void add_filter(struct archive* a, Compression c) {
    if (c == Compression::gzip) archive_write_add_filter_gzip(a);
    if (c == Compression::zstd) archive_write_add_filter_zstd(a);
}

}  // namespace detail

// An uncompressed pax tar of `entries`, in order.
inline std::string make_tar(const std::vector<Entry>& entries) {
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax(a);
    archive_write_set_bytes_in_last_block(a, 1);
    EXPECT_EQ(archive_write_open(a, &out, nullptr, detail::append, nullptr), ARCHIVE_OK);
    for (const auto& e : entries) {
        struct archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_uid(ae, e.uid);
        archive_entry_set_gid(ae, e.gid);
        archive_entry_set_mtime(ae, e.mtime, 0);
        archive_entry_set_perm(ae, e.mode);
        for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
        switch (e.type) {
            case 'f':
                archive_entry_set_filetype(ae, AE_IFREG);
                archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
                break;
            case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
            case 'l':
                archive_entry_set_filetype(ae, AE_IFLNK);
                archive_entry_set_symlink(ae, e.data.c_str());
                break;
            case 'h':
                archive_entry_set_filetype(ae, AE_IFREG);
                archive_entry_set_hardlink(ae, e.data.c_str());
                break;
            case 'c':
            case 'b':
                archive_entry_set_filetype(ae, e.type == 'c' ? AE_IFCHR : AE_IFBLK);
                archive_entry_set_rdevmajor(ae, e.major);
                archive_entry_set_rdevminor(ae, e.minor);
                break;
            case 'p': archive_entry_set_filetype(ae, AE_IFIFO); break;
        }
        EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << e.name << ": " << archive_error_string(a);
        if (e.type == 'f' && !e.data.empty()) {
            EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()), static_cast<la_ssize_t>(e.data.size()));
        }
        archive_entry_free(ae);
    }
    EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

inline std::string compress(const std::string& data, Compression c) {
    if (c == Compression::none) return data;
    std::string out;
    struct archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    detail::add_filter(a, c);
    archive_write_set_bytes_in_last_block(a, 1);
    EXPECT_EQ(archive_write_open(a, &out, nullptr, detail::append, nullptr), ARCHIVE_OK);
    struct archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, "data");
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_size(ae, static_cast<la_int64_t>(data.size()));
    EXPECT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    EXPECT_EQ(archive_write_data(a, data.data(), data.size()), static_cast<la_ssize_t>(data.size()));
    archive_entry_free(ae);
    EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

inline std::string_view layer_type(Compression c) {
    switch (c) {
        case Compression::gzip: return media_type::oci_layer_gzip;
        case Compression::zstd: return media_type::oci_layer_zstd;
        case Compression::none: return media_type::oci_layer;
    }
    return media_type::oci_layer;
}

struct Layer {
    json descriptor;
    std::string diff_id;
};

// An OCI layout being written at `dir`.
class Layout {
public:
    explicit Layout(std::string dir) : dir_(std::move(dir)) {
        std::filesystem::create_directories(dir_ + "/blobs/sha256");
        write(dir_ + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    }

    const std::string& dir() const { return dir_; }

    json blob(const std::string& data, std::string_view media_type) {
        std::string digest = sha256_of(data);
        write(blob_path(digest), data);
        return json{{"mediaType", media_type}, {"digest", digest}, {"size", data.size()}};
    }

    std::string blob_path(const std::string& digest) const { return dir_ + "/blobs/sha256/" + digest.substr(7); }

    Layer layer(const std::vector<Entry>& entries, Compression c = Compression::gzip) {
        std::string tar = make_tar(entries);
        return Layer{blob(compress(tar, c), layer_type(c)), sha256_of(tar)};
    }

    // Writes config and manifest; returns the manifest's descriptor.
    json image(const std::vector<Layer>& layers, const json& config = json::object(),
               std::string_view manifest_type = media_type::oci_manifest,
               std::string_view config_type = media_type::oci_config) {
        json diff_ids = json::array();
        for (const auto& l : layers) diff_ids.push_back(l.diff_id);
        json cfg = {{"architecture", "amd64"},
                    {"os", "linux"},
                    {"config", config},
                    {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
        json layer_descs = json::array();
        for (const auto& l : layers) layer_descs.push_back(l.descriptor);
        return manifest(blob(cfg.dump(), config_type), layer_descs, manifest_type);
    }

    json manifest(const json& config_desc, const json& layer_descs,
                  std::string_view manifest_type = media_type::oci_manifest) {
        json m = {{"schemaVersion", 2}, {"mediaType", manifest_type}, {"config", config_desc}, {"layers", layer_descs}};
        return blob(m.dump(), manifest_type);
    }

    void index(const std::vector<json>& manifests) {
        json idx = {{"schemaVersion", 2}, {"mediaType", media_type::oci_index}, {"manifests", manifests}};
        write(dir_ + "/index.json", idx.dump());
    }

    // An index blob (for nesting), not index.json.
    json index_blob(const std::vector<json>& manifests) {
        json idx = {{"schemaVersion", 2}, {"mediaType", media_type::oci_index}, {"manifests", manifests}};
        return blob(idx.dump(), media_type::oci_index);
    }

    static void write(const std::string& path, const std::string& data) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << data;
        ASSERT_TRUE(out.good()) << path;
    }

private:
    std::string dir_;
};

// Packs a layout directory into an oci-archive at `out`, optionally gzip-compressed.
inline void pack(const std::string& dir, const std::string& out, Compression c = Compression::none) {
    std::string data;
    struct archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    detail::add_filter(a, c);
    ASSERT_EQ(archive_write_open(a, &data, nullptr, detail::append, nullptr), ARCHIVE_OK);
    for (const auto& it : std::filesystem::recursive_directory_iterator(dir)) {
        std::string rel = std::filesystem::relative(it.path(), dir).string();
        struct archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, rel.c_str());
        std::string content;
        if (it.is_directory()) {
            archive_entry_set_filetype(ae, AE_IFDIR);
            archive_entry_set_perm(ae, 0755);
        } else {
            std::ifstream in(it.path(), std::ios::binary);
            content.assign(std::istreambuf_iterator<char>(in), {});
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_perm(ae, 0644);
            archive_entry_set_size(ae, static_cast<la_int64_t>(content.size()));
        }
        ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK);
        if (!content.empty()) archive_write_data(a, content.data(), content.size());
        archive_entry_free(ae);
    }
    ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    Layout::write(out, data);
}

}  // namespace kiln::image::testing
