// userns: the pod in a user namespace of its own, its ids mapped to a range of unprivileged
// host ids that no other pod has (0 in the pod is `first + k * size` on the host). The pod's
// sandbox makes the namespace, which then owns the pod's other namespaces, and every container
// joins it; kilnd mounts the containers' root file systems idmapped to it, so the pod's root owns
// the image's files. A range is leased per pod (a file in the plugin's state dir, made with
// O_EXCL, so that concurrent pods never share one) and given back when the pod is deleted.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "isolators/common/isolator.hpp"

namespace kiln::isolators {
namespace {

class Userns : public Isolator {
public:
    using Isolator::Isolator;

    void start() override {
        Isolator::start();
        std::filesystem::create_directories(host_.state_dir() + "/leases");
    }

    std::string sandbox(const std::string& request_text) override {
        json request = json::parse(request_text);
        json config = defaults_;
        if (request.contains("config") && request["config"].is_object()) {
            // The ranges are the deployment's to lay out: a pod choosing its own could overlap another's.
            for (const auto& [k, v] : request["config"].items())
                if (k != "enabled") bad("isolators[userns].config." + k, "is set by the deployment (kiln.yaml), not by a pod");
            config.merge_patch(request["config"]);
        }
        check(config, "isolators[userns].config");
        if (!config.value("enabled", true)) return "{}";
        std::uint64_t first = config.value("first", 100000ull), size = config.value("size", 65536ull),
                      count = config.value("count", 1024ull);
        std::uint64_t k = lease(request.value("pod", ""), count);
        json mapping = json::array({{{"containerID", 0}, {"hostID", first + k * size}, {"size", size}}});
        return json{{"userns", {{"uidMappings", mapping}, {"gidMappings", mapping}}}}.dump();
    }

    void release(const std::string& request_text) override {
        std::string pod = json::parse(request_text).value("pod", "");
        for (const auto& e : std::filesystem::directory_iterator(host_.state_dir() + "/leases"))
            if (owner(e.path().string()) == pod) std::filesystem::remove(e.path());
    }

private:
    std::string name() const override { return "userns"; }

    void check(const json& config, const std::string& where) const override {
        for (const auto& [k, v] : config.items()) {
            if (k == "enabled") {
                if (!v.is_boolean()) bad(where + ".enabled", "must be true or false");
            } else if (k == "first" || k == "size" || k == "count") {
                if (!v.is_number_unsigned() || v.get<std::uint64_t>() == 0) bad(where + "." + k, "must be a whole number above 0");
            } else {
                bad(where + "." + k, "unknown field (known: enabled, first, size, count)");
            }
        }
        std::uint64_t first = config.value("first", 100000ull), size = config.value("size", 65536ull),
                      count = config.value("count", 1024ull);
        if (first < 65536) bad(where + ".first", "must be at least 65536 (the host's own ids come before)");
        if (size < 65536) bad(where + ".size", "must be at least 65536 (a pod's root, nobody and the ids between)");
        if (first + size * count > 0xFFFFFFFFull) bad(where, "first + size * count goes past the last uid");
    }

    // The container specs need nothing: kilnd joins the containers to the sandbox's namespace.
    void edit(json&, const json&) const override {}

    static std::string owner(const std::string& path) {
        std::ifstream in(path);
        std::string pod;
        std::getline(in, pod);
        return pod;
    }

    // The pod's range: the one it holds, or the first free one.
    std::uint64_t lease(const std::string& pod, std::uint64_t count) {
        std::string dir = host_.state_dir() + "/leases";
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (owner(e.path().string()) == pod) return std::stoull(e.path().filename().string());
        for (std::uint64_t k = 0; k < count; ++k) {
            std::string path = dir + "/" + std::to_string(k);
            int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (fd < 0) continue;
            std::string line = pod + "\n";
            bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
            ::close(fd);
            if (!ok) {
                std::filesystem::remove(path);
                throw std::runtime_error("writing " + path);
            }
            return k;
        }
        throw std::runtime_error("every one of the " + std::to_string(count) + " ranges is leased (config.count)");
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::Userns)
