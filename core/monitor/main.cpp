// kiln-monitor: started by kilnd (posix_spawn, in its own session) for each container.
#include <unistd.h>

#include <cstdio>
#include <string_view>

#include <CLI/CLI.hpp>

#include "core/monitor/monitor.hpp"
#include "core/sys/clock.hpp"
#include "core/sys/log.hpp"

namespace {

void to_stderr(kiln::log::Level level, std::string_view message) {
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::string line = kiln::rfc3339_now() + " kiln-monitor " + names[static_cast<int>(level)] + ": " +
                       std::string(message) + "\n";
    ssize_t ignored = ::write(2, line.data(), line.size());
    (void)ignored;
}

}  // namespace

int main(int argc, char** argv) {
    kiln::monitor::Options o;
    CLI::App app{"kiln-monitor: creates one container, holds its stdio and records its exit"};
    app.add_option("--runtime-root", o.runtime_root, "the container layer's state root")->required();
    app.add_option("--id", o.id, "container id")->required();
    app.add_option("--bundle", o.bundle, "OCI bundle directory")->required();
    app.add_option("--log", o.log_path, "the container's JSON-lines log file")->required();
    app.add_option("--log-max-size", o.log_max_size, "bytes before the log rotates");
    app.add_option("--log-max-files", o.log_max_files, "rotated log files kept")->check(CLI::PositiveNumber);
    app.add_option("--socket", o.socket_path, "attach/state/signal socket")->required();
    app.add_option("--status", o.status_path, "file for the exit status")->required();
    app.add_flag("--stdin", o.stdin_open, "keep stdin open for attach clients");
    app.add_option("--ready-fd", o.ready_fd, "fd that receives one JSON line once the container runs");
    CLI11_PARSE(app, argc, argv);
    if (::getsid(0) != ::getpid()) ::setsid();
    kiln::log::set_sink(to_stderr);
    return kiln::monitor::run(o);
}
