// A tiny logging front for the core libraries. Programs install the sink: kiln-runtime writes
// runc-style lines to --log, kilnd forwards to spdlog. Never called between clone and exec.
#pragma once

#include <string_view>

namespace kiln::log {

enum class Level { debug, info, warn, error };

using Sink = void (*)(Level, std::string_view);

void set_sink(Sink sink);
void set_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view message);

inline void debug(std::string_view m) { write(Level::debug, m); }
inline void info(std::string_view m) { write(Level::info, m); }
inline void warn(std::string_view m) { write(Level::warn, m); }
inline void error(std::string_view m) { write(Level::error, m); }

}  // namespace kiln::log
