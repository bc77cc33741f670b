#include "core/daemon/pod_network.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <sstream>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"
#include "core/sys/log.hpp"
#include "core/sys/mountinfo.hpp"

namespace kiln::daemon {

namespace {

// A bind mount of a directory onto itself keeps its device: only mountinfo tells.
bool is_mount_point(const std::string& dir) {
    std::error_code ec;
    std::string real = std::filesystem::weakly_canonical(dir, ec).string();
    for (const auto& m : read_mountinfo())
        if (m.mount_point == real) return true;
    return false;
}

bool is_netns_file(const std::string& path) {
    struct statfs fs;
    return ::statfs(path.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == NSFS_MAGIC;
}

// The host's resolv.conf without loopback nameservers, which a pod cannot reach.
std::string host_resolv_conf_for_pod() {
    std::string text = read_file_if_exists("/etc/resolv.conf").value_or("");
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, value;
        words >> key >> value;
        if (key == "nameserver" && (value.rfind("127.", 0) == 0 || value == "::1")) continue;
        out += line + "\n";
    }
    return out;
}

}  // namespace

bool prepare_netns_dir(const std::string& dir) {
    mkdir_all(dir, 0755);
    bool fresh = !is_mount_point(dir);
    if (fresh && ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) < 0) throw_sys("bind-mounting", dir);
    if (::mount(nullptr, dir.c_str(), nullptr, MS_SHARED, nullptr) < 0) throw_sys("making shared", dir);
    return fresh;
}

void release_netns_dir(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (is_netns_file(e.path().string())) return;  // a pod still running holds it
    while (is_mount_point(dir))
        if (::umount2(dir.c_str(), MNT_DETACH) < 0) break;
}

void mount_netns(const std::string& path, pid_t pid) {
    unmount_netns(path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) throw_sys("creating", path);
    ::close(fd);
    std::string source = "/proc/" + std::to_string(pid) + "/ns/net";
    if (::mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) < 0) {
        int saved = errno;
        ::unlink(path.c_str());
        errno = saved;
        throw_sys("bind-mounting " + source + " at", path);
    }
}

void unmount_netns(const std::string& path) {
    for (int i = 0; i < 8 && is_netns_file(path); ++i)
        if (::umount2(path.c_str(), MNT_DETACH) < 0) {
            log::warn("umount " + path + ": " + std::strerror(errno));
            break;
        }
    ::unlink(path.c_str());
}

std::pair<std::string, std::string> write_etc_files(const std::string& dir, const PodSpec& pod,
                                                    const nlohmann::json& attachments) {
    std::string resolv, hosts;
    if (pod.host_network()) {
        resolv = read_file_if_exists("/etc/resolv.conf").value_or("");
        hosts = read_file_if_exists("/etc/hosts").value_or("127.0.0.1\tlocalhost\n");
    } else {
        hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
        std::string short_name = pod.hostname.substr(0, pod.hostname.find('.'));
        std::string names = pod.hostname == short_name ? pod.hostname : pod.hostname + " " + short_name;
        std::vector<std::string> nameservers, search, options;
        std::string domain;
        bool own_address = false;
        auto add_unique = [](std::vector<std::string>& to, const nlohmann::json& from) {
            if (!from.is_array()) return;
            for (const auto& v : from)
                if (v.is_string() && std::find(to.begin(), to.end(), v.get<std::string>()) == to.end())
                    to.push_back(v.get<std::string>());
        };
        for (const auto& a : attachments) {
            if (a.contains("ips") && a["ips"].is_array())
                for (const auto& ip : a["ips"]) {
                    std::string address = ip.value("address", "");
                    address = address.substr(0, address.find('/'));
                    if (address.empty()) continue;
                    hosts += address + "\t" + names + "\n";
                    own_address = true;
                }
            const auto& dns = a.contains("dns") && a["dns"].is_object() ? a["dns"] : nlohmann::json::object();
            add_unique(nameservers, dns.value("nameservers", nlohmann::json::array()));
            add_unique(search, dns.value("search", nlohmann::json::array()));
            add_unique(options, dns.value("options", nlohmann::json::array()));
            if (domain.empty()) domain = dns.value("domain", "");
        }
        if (!own_address) hosts += "127.0.1.1\t" + names + "\n";
        if (attachments.empty()) {
            resolv = "";  // lo only: no name server is reachable
        } else if (nameservers.empty() && search.empty()) {
            resolv = host_resolv_conf_for_pod();
        } else {
            if (!domain.empty()) resolv += "domain " + domain + "\n";
            if (!search.empty()) {
                resolv += "search";
                for (const auto& s : search) resolv += " " + s;
                resolv += "\n";
            }
            for (const auto& n : nameservers) resolv += "nameserver " + n + "\n";
            if (!options.empty()) {
                resolv += "options";
                for (const auto& o : options) resolv += " " + o;
                resolv += "\n";
            }
        }
    }
    mkdir_all(dir, 0755);
    std::string resolv_path = dir + "/resolv.conf", hosts_path = dir + "/hosts";
    atomic_write(resolv_path, resolv, false, 0644);
    atomic_write(hosts_path, hosts, false, 0644);
    return {resolv_path, hosts_path};
}

}  // namespace kiln::daemon
