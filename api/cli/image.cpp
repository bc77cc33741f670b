// kiln image import|ls|rm: the local image store.
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

    auto* ls = image->add_subcommand("ls", "list images");
    auto format = std::make_shared<std::string>("table");
    ls->add_option("--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
    ls->callback([&ctx, format] {
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
        print_table({"NAME", "DIGEST", "SIZE", "IMPORTED"}, rows);
    });

    auto* rm = image->add_subcommand("rm", "delete images");
    struct Rm {
        std::vector<std::string> refs;
        bool force = false;
    };
    auto ra = std::make_shared<Rm>();
    rm->add_flag("-f,--force", ra->force, "delete even if a pod uses it");
    rm->add_option("ref", ra->refs, "image names or digests")->required();
    rm->callback([&ctx, ra] {
        for (const auto& r : ra->refs) {
            ctx.client().call("DELETE", "/v1/images/" + escape(r) + (ra->force ? "?force=true" : ""));
            std::cout << r << "\n";
        }
    });
}

}  // namespace kiln::cli
