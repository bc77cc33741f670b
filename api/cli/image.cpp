// kiln image import|ls|rm|inspect (and the docker-style kiln images, kiln rmi): the local image
// store.
#include <limits.h>
#include <stdlib.h>

#include <iostream>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {

void add_image(CLI::App& app, Context& ctx) {
    auto* image = app.add_subcommand("image", "manage images");
    image->require_subcommand(1);

    auto* imp = image->add_subcommand("import", "import an OCI image layout directory or oci-archive");
    struct Import {
        std::string tag, path;
    };
    auto ia = std::make_shared<Import>();
    imp->add_option("--tag", ia->tag, "name[:tag] to give the image")->required();
    imp->add_option("path", ia->path, "OCI layout directory or oci-archive tarball")->required();
    imp->callback([&ctx, ia] {
        char real[PATH_MAX];
        if (!::realpath(ia->path.c_str(), real)) throw_sys("realpath", ia->path);
        auto img = ctx.client().call("POST", "/v1/images/import", nlohmann::json{{"path", real}, {"tag", ia->tag}});
        std::cout << img.value("name", "") << " " << img.value("digest", "") << "\n";
    });

    auto format = std::make_shared<std::string>("table");
    auto list = [&ctx, format] {
        auto images = ctx.client().call("GET", "/v1/images");
        if (*format == "json") {
            std::cout << images.dump(2) << "\n";
            return;
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& i : images) {
            std::string digest = i.value("digest", "");
            if (digest.rfind("sha256:", 0) == 0) digest = digest.substr(7, 12);
            double mib = static_cast<double>(i.value("size", std::uint64_t{0})) / (1024.0 * 1024.0);
            char size[32];
            std::snprintf(size, sizeof size, "%.1f MiB", mib);
            rows.push_back({i.value("name", ""), digest, size, i.value("created", "").substr(0, 19)});
        }
        print_table({"NAME", "DIGEST", "SIZE", "CREATED"}, rows);
    };
    for (auto* ls : {image->add_subcommand("ls", "list images"), app.add_subcommand("images", "list images")}) {
        ls->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
        ls->callback(list);
    }

    struct Rm {
        std::vector<std::string> refs;
        bool force = false;
    };
    auto ra = std::make_shared<Rm>();
    for (auto* rm : {image->add_subcommand("rm", "delete images"), app.add_subcommand("rmi", "delete images")}) {
        rm->add_flag("-f,--force", ra->force, "delete even if a pod uses it");
        rm->add_option("ref", ra->refs, "image names or digests")->required();
        rm->callback([&ctx, ra] {
            for (const auto& r : ra->refs) {
                ctx.client().call("DELETE", "/v1/images/" + escape(r) + (ra->force ? "?force=true" : ""));
                std::cout << r << "\n";
            }
        });
    }

    struct Build {
        std::string dir, tag, config;
    };
    auto ba = std::make_shared<Build>();
    auto* build = image->add_subcommand("build", "make a single-layer image of a directory");
    build->add_option("--from-dir", ba->dir, "the root filesystem")->required();
    build->add_option("--tag", ba->tag, "name[:tag] to give the image")->required();
    build->add_option("--config", ba->config,
                      "JSON or YAML file with the image config's \"config\" object (Entrypoint, Cmd, Env, WorkingDir, "
                      "User, ExposedPorts, Volumes, Labels, StopSignal)")
        ->check(CLI::ExistingFile);
    build->callback([&ctx, ba] {
        char real[PATH_MAX];
        if (!::realpath(ba->dir.c_str(), real)) throw_sys("realpath", ba->dir);
        nlohmann::json config = nlohmann::json::object();
        if (!ba->config.empty()) {
            try {
                config = yaml_to_json(YAML::LoadFile(ba->config));  // JSON is YAML too
            } catch (const YAML::Exception& e) {
                throw Error(Errc::invalid_argument, ba->config + ": " + e.what());
            }
            if (config.is_object() && config.contains("config") && config["config"].is_object()) config = config["config"];
        }
        auto img = ctx.client().call("POST", "/v1/images/build",
                                     nlohmann::json{{"fromDir", real}, {"tag", ba->tag}, {"config", config}});
        std::cout << img.value("name", "") << " " << img.value("digest", "") << "\n";
    });

    struct Export {
        std::string ref, path, format;
    };
    auto ea = std::make_shared<Export>();
    auto* exp = image->add_subcommand("export", "write an image as an OCI layout directory or oci-archive");
    exp->add_option("ref", ea->ref, "image name or digest")->required();
    exp->add_option("path", ea->path, "where to write it (must not exist)")->required();
    exp->add_option("--format", ea->format, "oci (a directory) or oci-archive (a tar); default: oci-archive for *.tar, else oci")
        ->check(CLI::IsMember({"oci", "oci-archive"}));
    exp->callback([&ctx, ea] {
        std::string path = ea->path;
        if (path.empty()) throw Error(Errc::invalid_argument, "path: must not be empty");
        while (path.size() > 1 && path.back() == '/') path.pop_back();
        auto slash = path.find_last_of('/');
        std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
        char real[PATH_MAX];
        if (!::realpath(parent.c_str(), real)) throw_sys("realpath", parent);
        std::string abs = std::string(real) + (std::string(real) == "/" ? "" : "/") + path.substr(slash == std::string::npos ? 0 : slash + 1);
        std::string format = ea->format.empty() ? (path.ends_with(".tar") ? "oci-archive" : "oci") : ea->format;
        ctx.client().call("POST", "/v1/images/export", nlohmann::json{{"reference", ea->ref}, {"path", abs}, {"format", format}});
        std::cout << abs << "\n";
    });

    auto* prune = image->add_subcommand("prune", "remove blobs, snapshots and partial downloads no image or pod uses");
    prune->callback([&ctx] {
        auto r = ctx.client().call("POST", "/v1/images/prune");
        char mib[32];
        std::snprintf(mib, sizeof mib, "%.1f", static_cast<double>(r.value("bytes", std::uint64_t{0})) / (1024.0 * 1024.0));
        std::cout << "removed " << r.value("blobs", 0) << " blobs, " << r.value("snapshots", 0) << " snapshots, "
                  << r.value("partials", 0) << " partial downloads: " << mib << " MiB\n";
    });

    auto inspect_refs = std::make_shared<std::vector<std::string>>();
    auto* inspect = image->add_subcommand("inspect", "show image records as JSON (config, layers, ports, volumes, labels)");
    inspect->add_option("ref", *inspect_refs, "image names or digests")->required();
    inspect->callback([&ctx, inspect_refs] {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : *inspect_refs) out.push_back(ctx.client().call("GET", "/v1/images/" + escape(r)));
        std::cout << out.dump(2) << "\n";
    });
}

}  // namespace kiln::cli
