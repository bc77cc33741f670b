// Tables, escaping and sizes for the verbs.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size());
    for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < width.size(); ++i) width[i] = std::max(width[i], r[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (std::size_t i = 0; i < cells.size(); ++i) {
            out += cells[i];
            if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 3, ' ');
        }
        std::cout << out << "\n";
    };
    line(header);
    for (const auto& r : rows) line(r);
}

std::string escape(const std::string& text) { return api::percent_encode(text); }

std::int64_t parse_size(const std::string& text, const std::string& flag) {
    std::size_t used = 0;
    double n = 0;
    try {
        n = std::stod(text, &used);
    } catch (...) {
        invalid(flag + ": \"" + text + "\" is not a size like 32m");
    }
    std::string unit = text.substr(used);
    std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
    if (!unit.empty() && unit.back() == 'b' && unit.size() > 1) unit.pop_back();
    double mult = unit.empty() || unit == "b" ? 1 : unit == "k" ? 1024.0 : unit == "m" ? 1024.0 * 1024 : unit == "g" ? 1024.0 * 1024 * 1024 : -1;
    if (mult < 0 || n <= 0) invalid(flag + ": \"" + text + "\" is not a size like 32m");
    return static_cast<std::int64_t>(n * mult);
}

}  // namespace kiln::cli
