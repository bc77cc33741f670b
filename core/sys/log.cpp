// Sink and level of the core logging front.
#include "core/sys/log.hpp"

#include <cstdio>

namespace kiln::log {
namespace {

void stderr_sink(Level level, std::string_view message) {
    static const char* names[] = {"debug", "info", "warning", "error"};
    std::fprintf(stderr, "%s: %.*s\n", names[static_cast<int>(level)], static_cast<int>(message.size()),
                 message.data());
}

Sink g_sink = stderr_sink;
Level g_level = Level::warn;

}  // namespace

void set_sink(Sink sink) { g_sink = sink ? sink : stderr_sink; }
void set_level(Level level) { g_level = level; }
bool enabled(Level level) { return level >= g_level; }
void write(Level level, std::string_view message) {
    if (enabled(level)) g_sink(level, message);
}

}  // namespace kiln::log
