// The JSON-lines log file of a container and its rotation.
#include "core/monitor/log_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/sys/clock.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::monitor {
namespace {

// A line longer than this is written in parts, each marked partial, so memory stays bounded.
constexpr std::size_t kMaxPending = 16 * 1024;

}  // namespace

LogWriter::LogWriter(std::string path, std::uint64_t max_size, int max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files < 1 ? 1 : max_files) {
    fd_ = open_file(path_, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st;
    if (::fstat(fd_.get(), &st) == 0) size_ = static_cast<std::uint64_t>(st.st_size);
}

void LogWriter::write(std::string_view stream, std::string_view data) {
    Pending& p = stream == "stderr" ? err_ : out_;
    while (!data.empty()) {
        auto nl = data.find('\n');
        p.text.append(data.substr(0, nl == std::string_view::npos ? data.size() : nl));
        while (p.text.size() >= kMaxPending) {
            entry(stream, std::string_view(p.text).substr(0, kMaxPending), true);
            p.text.erase(0, kMaxPending);
        }
        if (nl == std::string_view::npos) return;
        entry(stream, p.text, false);
        p.text.clear();
        data.remove_prefix(nl + 1);
    }
}

void LogWriter::flush() {
    if (!out_.text.empty()) entry("stdout", out_.text, true);
    if (!err_.text.empty()) entry("stderr", err_.text, true);
    out_.text.clear();
    err_.text.clear();
}

void LogWriter::entry(std::string_view stream, std::string_view text, bool partial) {
    nlohmann::json j{{"stream", stream}, {"time", rfc3339_now()}, {"text", std::string(text)}};
    if (partial) j["partial"] = true;
    // Bytes that are not UTF-8 become U+FFFD rather than failing the line.
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    if (size_ > 0 && size_ + line.size() > max_size_) rotate();
    // A full disk must not stop the container: the line is lost, the monitor goes on.
    ssize_t n = ::write(fd_.get(), line.data(), line.size());
    if (n > 0) size_ += static_cast<std::uint64_t>(n);
}

void LogWriter::rotate() {
    for (int i = max_files_ - 1; i >= 1; --i) {
        std::string from = i == 1 ? path_ : path_ + "." + std::to_string(i - 1);
        std::string to = path_ + "." + std::to_string(i);
        ::rename(from.c_str(), to.c_str());
    }
    if (max_files_ == 1) ::ftruncate(fd_.get(), 0);
    else fd_ = open_file(path_, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
    size_ = 0;
}

}  // namespace kiln::monitor
