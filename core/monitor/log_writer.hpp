// A container's log: one JSON object per line ({"stream","time","text"}), rotated by size into
// NAME.1 .. NAME.<max_files-1>. kilnd reads these files for GET .../logs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/sys/fd.hpp"

namespace kiln::monitor {

class LogWriter {
public:
    LogWriter(std::string path, std::uint64_t max_size, int max_files);

    // Appends what a stream produced. Whole lines become entries at once; a partial line waits
    // for its end, up to a bound, and is flushed by flush().
    void write(std::string_view stream, std::string_view data);
    // Ends the pending partial line of every stream (at EOF of a stream, at exit).
    void flush();

private:
    struct Pending {
        std::string text;
    };
    void entry(std::string_view stream, std::string_view text, bool partial);
    void rotate();

    std::string path_;
    std::uint64_t max_size_;
    int max_files_;
    Fd fd_;
    std::uint64_t size_ = 0;
    Pending out_, err_;
};

}  // namespace kiln::monitor
