// kiln pull: an image from a registry, with a progress bar per blob on a terminal (a line per
// step otherwise); kiln login / logout: the credentials kilnd uses for a registry.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <vector>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {

namespace {

struct Blob {
    std::string kind, status;
    std::uint64_t current = 0, total = 0;
};

std::string mib(std::uint64_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0));
    return buf;
}

// Draws the blobs' state: on a terminal, redrawn in place; otherwise a line per change of step.
class ProgressView {
public:
    explicit ProgressView(bool quiet) : quiet_(quiet), tty_(::isatty(STDERR_FILENO)) {}

    void update(const nlohmann::json& line) {
        std::string digest = line.value("digest", "");
        Blob& b = blobs_[digest];
        if (b.kind.empty()) order_.push_back(digest);
        std::string previous = b.status;
        b.kind = line.value("kind", "");
        b.status = line.value("status", "");
        b.current = line.value("current", std::uint64_t{0});
        b.total = line.value("total", std::uint64_t{0});
        if (quiet_) return;
        if (tty_) redraw();
        else if (b.status != previous) std::cerr << row(digest, b) << "\n";
    }

private:
    static std::string row(const std::string& digest, const Blob& b) {
        std::string id = digest.substr(digest.find(':') + 1, 12);
        std::string out = id + " " + b.kind;
        out.resize(22, ' ');
        constexpr int kWidth = 30;
        int filled = b.total ? static_cast<int>(kWidth * static_cast<double>(b.current) / static_cast<double>(b.total)) : kWidth;
        if (filled > kWidth) filled = kWidth;
        out += "[" + std::string(static_cast<std::size_t>(filled), '=') + std::string(static_cast<std::size_t>(kWidth - filled), ' ') + "] ";
        out += mib(b.current) + "/" + mib(b.total) + " MiB " + b.status;
        return out;
    }

    void redraw() {
        if (drawn_) std::cerr << "\033[" << drawn_ << "A";
        for (const auto& d : order_) std::cerr << "\r\033[K" << row(d, blobs_[d]) << "\n";
        drawn_ = order_.size();
        std::cerr.flush();
    }

    bool quiet_, tty_;
    std::map<std::string, Blob> blobs_;
    std::vector<std::string> order_;
    std::size_t drawn_ = 0;
};

}  // namespace

void add_pull(CLI::App& app, Context& ctx) {
    struct Pull {
        std::string ref, platform;
        bool quiet = false;
    };
    auto pa = std::make_shared<Pull>();
    auto setup = [&ctx, pa](CLI::App* cmd) {
        cmd->add_option("reference", pa->ref, "[registry/]repository[:tag][@sha256:digest]")->required();
        cmd->add_option("--platform", pa->platform, "os/architecture[/variant] to take from an index (default: this machine's)");
        cmd->add_flag("-q,--quiet", pa->quiet, "print only the image's name and digest");
        cmd->callback([&ctx, pa] {
            nlohmann::json body{{"reference", pa->ref}};
            if (!pa->platform.empty()) body["platform"] = pa->platform;
            ProgressView view(pa->quiet);
            std::string pending;
            nlohmann::json result;
            ctx.client().stream("POST", "/v1/images/pull", body, [&](std::string_view data) {
                pending.append(data);
                for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
                    auto line = nlohmann::json::parse(pending.substr(0, nl), nullptr, false);
                    pending.erase(0, nl + 1);
                    if (!line.is_object()) continue;
                    if (line.contains("image") || line.contains("error")) result = line;
                    else view.update(line);
                }
                return true;
            });
            if (result.contains("error")) {
                const auto& e = result["error"];
                throw Error(Errc::internal, e.value("message", "the pull failed"));
            }
            if (!result.contains("image")) throw Error(Errc::internal, "kilnd ended the pull without a result");
            std::cout << result["image"].value("name", "") << " " << result["image"].value("digest", "") << "\n";
        });
    };
    setup(app.add_subcommand("pull", "pull an image from a registry and unpack it"));

    struct Login {
        std::string registry, username, password;
        bool password_stdin = false;
    };
    auto la = std::make_shared<Login>();
    auto* login = app.add_subcommand("login", "store credentials for a registry (kilnd checks them first)");
    login->add_option("registry", la->registry, "host or host:port")->required();
    login->add_option("-u,--username", la->username, "account name")->required();
    login->add_option("-p,--password", la->password, "password (or use --password-stdin)");
    login->add_flag("--password-stdin", la->password_stdin, "read the password from stdin");
    login->callback([&ctx, la] {
        std::string password = la->password;
        if (la->password_stdin) {
            if (!password.empty()) throw Error(Errc::invalid_argument, "--password and --password-stdin exclude each other");
            std::getline(std::cin, password);
            if (!password.empty() && password.back() == '\r') password.pop_back();
        }
        if (password.empty()) throw Error(Errc::invalid_argument, "a password is required: --password or --password-stdin");
        ctx.client().call("POST", "/v1/auth",
                          nlohmann::json{{"registry", la->registry}, {"username", la->username}, {"password", password}});
        std::cout << "Login Succeeded\n";
    });
    auto logout_registry = std::make_shared<std::string>();
    auto* logout = app.add_subcommand("logout", "forget the credentials stored for a registry");
    logout->add_option("registry", *logout_registry, "host or host:port")->required();
    logout->callback([&ctx, logout_registry] {
        ctx.client().call("DELETE", "/v1/auth/" + escape(*logout_registry));
        std::cout << "Removed login credentials for " << *logout_registry << "\n";
    });
}

}  // namespace kiln::cli
