// /v1/images: list, inspect, delete (refused while a pod uses the image, unless forced), import
// from a path on kilnd's host (an OCI layout directory or an oci-archive), pull from a registry
// with its progress streamed as JSON lines; /v1/auth: registry credentials.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "api/server/routes/routes.hpp"
#include "api/server/streaming.hpp"
#include "core/sys/error.hpp"

namespace kiln::api {

namespace {

// A JSON object body whose fields are all among `known`.
nlohmann::json object_body(const Request& req, std::initializer_list<const char*> known) {
    auto body = req.json();
    if (!body.is_object()) invalid("body: must be a JSON object");
    for (const auto& [k, v] : body.items())
        if (std::find_if(known.begin(), known.end(), [&](const char* n) { return k == n; }) == known.end())
            invalid(k + ": unknown field");
    return body;
}

std::string string_field(const nlohmann::json& body, const char* name, bool required, const std::string& example) {
    if (!body.contains(name)) {
        if (required) invalid(std::string(name) + ": is required (" + example + ")");
        return "";
    }
    if (!body[name].is_string() || (required && body[name].get<std::string>().empty()))
        invalid(std::string(name) + ": must be a non-empty string (" + example + ")");
    return body[name];
}

// Progress lines of a pull, from the pulling threads to the response: at state changes, and for
// a download at most every 100 ms.
class ProgressQueue {
public:
    void push(const image::PullProgress& p) {
        auto now = std::chrono::steady_clock::now();
        std::lock_guard lock(mu_);
        if (p.status == "downloading" && p.current != p.total) {
            auto& last = last_[p.digest];
            if (now - last < std::chrono::milliseconds(100)) return;
            last = now;
        }
        lines_.push_back(nlohmann::json{{"digest", p.digest}, {"kind", p.kind}, {"status", p.status},
                                        {"current", p.current}, {"total", p.total}}
                             .dump() + "\n");
        cv_.notify_one();
    }
    void finish(std::string last_line) {
        std::lock_guard lock(mu_);
        lines_.push_back(std::move(last_line));
        done_ = true;
        cv_.notify_one();
    }
    // Lines queued so far; empty only at the end.
    std::string take() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !lines_.empty() || done_; });
        std::string out;
        while (!lines_.empty()) {
            out += lines_.front();
            lines_.pop_front();
        }
        return out;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::string> lines_;
    std::map<std::string, std::chrono::steady_clock::time_point> last_;
    bool done_ = false;
};

}  // namespace

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
        bool force = req.query_flag("force", false);
        auto img = d.images().get(req.param("ref"));
        auto users = d.pods_using(img.digest);
        if (!users.empty() && !force) {
            std::string list;
            for (const auto& p : users) list += (list.empty() ? "" : ", ") + p;
            precondition("image " + img.name + " is used by pod(s) " + list + ": delete them first, or force");
        }
        // Forced while in use: the name goes, the layers stay for the pods until a prune after them.
        d.images().remove(req.param("ref"), !users.empty());
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
    r.add_stream("POST", "/v1/images/pull", "application/x-ndjson", [&d](const Request& req, StreamWriter& out) {
        auto body = object_body(req, {"reference", "platform"});
        std::string ref = string_field(body, "reference", true, "like 127.0.0.1:5000/busybox:latest");
        image::parse_pull_reference(ref);  // a bad reference is a 400, before the stream starts
        image::ImportOptions options;
        std::string platform = string_field(body, "platform", false, "os/architecture[/variant]");
        if (!platform.empty()) options.platform = image::parse_platform(platform);
        ProgressQueue queue;
        options.progress = [&queue](const image::PullProgress& p) { queue.push(p); };
        out.write("");
        std::thread puller([&] {
            try {
                auto img = d.pull(ref, options);
                queue.finish(nlohmann::json{{"image", image::to_json(img)}}.dump() + "\n");
            } catch (const Error& e) {
                queue.finish(nlohmann::json{{"error", {{"code", errc_name(e.code())}, {"message", e.what()}}}}.dump() + "\n");
            } catch (const std::exception& e) {
                queue.finish(nlohmann::json{{"error", {{"code", "internal"}, {"message", e.what()}}}}.dump() + "\n");
            }
        });
        // The pull runs to its end even when the client goes: what it stores is complete.
        for (;;) {
            std::string lines = queue.take();
            if (lines.empty()) break;
            out.write(lines);
        }
        puller.join();
    });
    r.add_slow("POST", "/v1/images/build", [&d](const Request& req) {
        auto body = object_body(req, {"fromDir", "tag", "config"});
        std::string dir = string_field(body, "fromDir", true, "an absolute path on the daemon's host");
        if (dir[0] != '/') invalid("fromDir: must be an absolute path on the daemon's host");
        std::string tag = string_field(body, "tag", true, "like myapp:1.0");
        nlohmann::json config = body.contains("config") ? body["config"] : nlohmann::json::object();
        if (!config.is_object()) invalid("config: must be an object (Entrypoint, Cmd, Env, WorkingDir, User, ...)");
        auto img = d.images().build_from_dir(dir, tag, config);
        return Response::json(image::to_json(img), 201);
    });
    r.add_slow("POST", "/v1/images/export", [&d](const Request& req) {
        auto body = object_body(req, {"reference", "path", "format"});
        std::string ref = string_field(body, "reference", true, "an image name or digest");
        std::string path = string_field(body, "path", true, "an absolute path on the daemon's host");
        if (path[0] != '/') invalid("path: must be an absolute path on the daemon's host");
        std::string format = string_field(body, "format", false, "oci or oci-archive");
        if (format.empty()) format = "oci";
        if (format != "oci" && format != "oci-archive") invalid("format: must be oci or oci-archive, got \"" + format + "\"");
        d.images().export_image(ref, path,
                                format == "oci" ? image::Store::ExportFormat::layout : image::Store::ExportFormat::archive);
        return Response::json({{"reference", ref}, {"path", path}, {"format", format}}, 201);
    });
    r.add_slow("POST", "/v1/images/prune", [&d](const Request& req) {
        if (!req.body.empty()) object_body(req, {});
        auto result = d.images().prune(d.images_in_use());
        return Response::json({{"blobs", result.blobs}, {"snapshots", result.snapshots}, {"partials", result.partials},
                               {"bytes", result.bytes}});
    });
    r.add_slow("POST", "/v1/auth", [&d](const Request& req) {
        auto body = object_body(req, {"registry", "username", "password"});
        std::string registry = string_field(body, "registry", true, "host or host:port");
        try {
            image::parse_pull_reference(registry + "/x");
        } catch (const Error&) {
            invalid("registry: \"" + registry + "\" is not a registry name (host or host:port)");
        }
        image::RegistryCredentials creds{string_field(body, "username", true, "the registry account"),
                                         string_field(body, "password", true, "its password or token")};
        d.login(registry, creds);
        return Response::json({{"registry", registry}, {"username", creds.username}});
    });
    r.add("DELETE", "/v1/auth/{registry}", [&d](const Request& req) {
        if (!d.logout(req.param("registry"))) not_found("no credentials stored for " + req.param("registry"));
        return Response::no_content();
    });
}

}  // namespace kiln::api
