// /v1/images: list, inspect, delete (refused while a pod uses the image, unless forced), import
// from a path on kilnd's host (an OCI layout directory or an oci-archive).
#include "api/server/routes/routes.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {

void add_image_routes(Router& r, daemon::Daemon& d) {
    r.add("GET", "/v1/images", [&d](const Request&) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& img : d.images().list()) out.push_back(image::to_json(img));
        return Response::json(out);
    });
    r.add("GET", "/v1/images/{ref}", [&d](const Request& req) {
        return Response::json(image::to_json(d.images().get(req.param("ref"))));
    });
    r.add_slow("DELETE", "/v1/images/{ref}", [&d](const Request& req) {
        auto img = d.images().get(req.param("ref"));
        if (!req.query_flag("force", false)) {
            auto users = d.pods_using(img.digest);
            if (!users.empty()) {
                std::string list;
                for (const auto& p : users) list += (list.empty() ? "" : ", ") + p;
                precondition("image " + img.name + " is used by pod(s) " + list + ": delete them first, or force");
            }
        }
        d.images().remove(req.param("ref"));
        return Response::no_content();
    });
    r.add_slow("POST", "/v1/images/import", [&d](const Request& req) {
        auto body = req.json();
        if (!body.is_object()) invalid("body: must be a JSON object with \"path\" and \"tag\"");
        for (const auto& [k, v] : body.items())
            if (k != "path" && k != "tag") invalid(k + ": unknown field");
        if (!body.contains("path") || !body["path"].is_string() || body["path"].get<std::string>().empty() ||
            body["path"].get<std::string>()[0] != '/')
            invalid("path: must be an absolute path on the daemon's host");
        if (!body.contains("tag") || !body["tag"].is_string() || body["tag"].get<std::string>().empty())
            invalid("tag: must be a non-empty image name, like busybox:latest");
        auto img = d.images().import(body["path"].get<std::string>(), body["tag"].get<std::string>());
        return Response::json(image::to_json(img), 201);
    });
}

}  // namespace kiln::api
