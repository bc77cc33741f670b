// kiln-monitor: started by kilnd (posix_spawn, in its own session) for each container. Its
// arguments come from kilnd alone, so they are parsed plainly: no option library is linked into
// a program that stays resident once per container.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

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

[[noreturn]] void usage(const std::string& problem) {
    std::fprintf(stderr,
                 "kiln-monitor: %s\n"
                 "usage: kiln-monitor --runtime PATH --runtime-root DIR --id ID --bundle DIR --log FILE\n"
                 "       [--log-max-size BYTES] [--log-max-files N] --socket PATH --status FILE [--stdin]\n"
                 "       [--ready-fd FD]\n",
                 problem.c_str());
    std::exit(2);
}

long number(const std::string& flag, const char* text) {
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (!*text || *end || v < 0) usage(flag + ": not a number: " + text);
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    kiln::monitor::Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--stdin") {
            o.stdin_open = true;
            continue;
        }
        if (i + 1 >= argc) usage(a + ": needs a value");
        const char* v = argv[++i];
        if (a == "--runtime") o.runtime_binary = v;
        else if (a == "--runtime-root") o.runtime_root = v;
        else if (a == "--id") o.id = v;
        else if (a == "--bundle") o.bundle = v;
        else if (a == "--log") o.log_path = v;
        else if (a == "--log-max-size") o.log_max_size = static_cast<std::uint64_t>(number(a, v));
        else if (a == "--log-max-files") o.log_max_files = static_cast<int>(number(a, v));
        else if (a == "--socket") o.socket_path = v;
        else if (a == "--status") o.status_path = v;
        else if (a == "--ready-fd") o.ready_fd = static_cast<int>(number(a, v));
        else usage("unknown option " + a);
    }
    for (auto [value, flag] : {std::pair{&o.runtime_binary, "--runtime"}, {&o.runtime_root, "--runtime-root"},
                               {&o.id, "--id"}, {&o.bundle, "--bundle"}, {&o.log_path, "--log"},
                               {&o.socket_path, "--socket"}, {&o.status_path, "--status"}})
        if (value->empty()) usage(std::string(flag) + " is required");
    if (o.log_max_files < 1) usage("--log-max-files: at least 1");
    if (::getsid(0) != ::getpid()) ::setsid();
    kiln::log::set_sink(to_stderr);
    return kiln::monitor::run(o);
}
