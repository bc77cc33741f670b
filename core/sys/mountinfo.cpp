// Parser for /proc/<pid>/mountinfo.
#include "core/sys/mountinfo.hpp"

#include <charconv>

#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln {

std::string unescape_mount_field(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '7' &&
            field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
            out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                            (field[i + 3] - '0')));
            i += 3;
        } else {
            out.push_back(field[i]);
        }
    }
    return out;
}

static std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && line[i] == ' ') ++i;
        size_t j = i;
        while (j < line.size() && line[j] != ' ') ++j;
        if (j > i) out.push_back(line.substr(i, j - i));
        i = j;
    }
    return out;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
    std::vector<MountInfo> out;
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty()) continue;
        auto f = split_spaces(line);
        // id parent maj:min root mount_point options [optional...] - fstype source super
        size_t sep = 0;
        for (size_t i = 6; i < f.size(); ++i)
            if (f[i] == "-") {
                sep = i;
                break;
            }
        if (f.size() < 10 || sep == 0 || sep + 3 > f.size())
            throw Error(Errc::internal, "malformed mountinfo line: " + std::string(line));
        MountInfo m;
        auto number = [&](std::string_view field) {
            int v = 0;
            auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
            if (ec != std::errc() || end != field.data() + field.size())
                throw Error(Errc::internal, "malformed mountinfo line: " + std::string(line));
            return v;
        };
        m.id = number(f[0]);
        m.parent = number(f[1]);
        m.root = unescape_mount_field(f[3]);
        m.mount_point = unescape_mount_field(f[4]);
        m.options = std::string(f[5]);
        for (size_t i = 6; i < sep; ++i) {
            if (!m.optional.empty()) m.optional += ' ';
            m.optional += f[i];
        }
        m.fstype = std::string(f[sep + 1]);
        m.source = unescape_mount_field(f[sep + 2]);
        if (sep + 3 < f.size()) m.super_options = std::string(f[sep + 3]);
        out.push_back(std::move(m));
    }
    return out;
}

std::vector<MountInfo> read_mountinfo(const std::string& path) { return parse_mountinfo(read_file(path)); }

}  // namespace kiln
