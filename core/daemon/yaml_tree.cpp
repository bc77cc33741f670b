// YAML nodes to JSON values with the line of every path.
#include "core/daemon/yaml_tree.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <regex>
#include <set>

#include "core/daemon/field_reader.hpp"

namespace kiln::daemon::detail {

using json = nlohmann::json;

int SourceMap::line_of(const std::string& path) const {
    std::string p = path;
    for (;;) {
        auto it = lines_.find(p);
        if (it != lines_.end()) return it->second;
        if (p.empty()) return 0;
        // Drop the last step: ".key", "[3]" or "[\"quoted key\"]".
        auto cut = p.find_last_of(".[");
        if (p.back() == ']' && p.size() >= 2 && p[p.size() - 2] == '"') cut = p.rfind("[\"");
        p.resize(cut == std::string::npos ? 0 : cut);
    }
}

const std::string* SourceMap::text_of(const std::string& path) const {
    auto it = texts_.find(path);
    return it == texts_.end() ? nullptr : &it->second;
}

int yaml_line(const YAML::Node& node) {
    int line = node.Mark().line;
    return line < 0 ? 0 : line + 1;
}

static json integer_from(std::string_view digits, bool negative, int base) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (ec != std::errc() || end != digits.data() + digits.size()) return nullptr;
    if (!negative) return v;
    if (v > static_cast<std::uint64_t>(INT64_MAX) + 1) return nullptr;
    return v == static_cast<std::uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<std::int64_t>(v);
}

// A plain scalar's value under the core schema; a string when it matches no other type, or when it
// is a number beyond what JSON holds here (64-bit integers, finite doubles).
static json resolve_plain(const std::string& s) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    static const std::regex decimal("[-+]?[0-9]+");
    static const std::regex octal("0o[0-7]+");
    static const std::regex hex("0x[0-9a-fA-F]+");
    static const std::regex fraction("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
    json v;
    if (std::regex_match(s, decimal)) {
        bool negative = s[0] == '-';
        v = integer_from(std::string_view(s).substr(s[0] == '-' || s[0] == '+' ? 1 : 0), negative, 10);
    } else if (std::regex_match(s, octal)) {
        v = integer_from(std::string_view(s).substr(2), false, 8);
    } else if (std::regex_match(s, hex)) {
        v = integer_from(std::string_view(s).substr(2), false, 16);
    } else if (std::regex_match(s, fraction)) {
        std::string_view text = s;
        if (text[0] == '+') text.remove_prefix(1);
        double d = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (ec == std::errc() && end == text.data() + text.size()) v = d;
    }
    return v.is_null() ? json(s) : v;
}

// Aliases make a document a graph: a cycle would nest forever and a few lines of anchors can
// expand into billions of values ("billion laughs"). Both limits are far above any real pod or config.
constexpr int max_depth = 64;
constexpr std::size_t max_values = 100000;

struct Budget {
    std::size_t values = 0;
};

static json convert(const YAML::Node& node, const std::string& path, SourceMap& source, int depth,
                    Budget& budget) {
    if (depth > max_depth)
        throw FieldError(path, "nested deeper than " + std::to_string(max_depth) + " levels", yaml_line(node));
    if (++budget.values > max_values)
        throw FieldError(path, "more than " + std::to_string(max_values) + " values (aliases expanding?)",
                         yaml_line(node));
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined: return nullptr;
        case YAML::NodeType::Scalar: {
            // "?" is yaml-cpp's tag for a plain scalar; quoted ones and !!str are strings.
            if (node.Tag() != "?") return node.Scalar();
            json v = resolve_plain(node.Scalar());
            if (!v.is_string()) source.set_text(path, node.Scalar());
            return v;
        }
        case YAML::NodeType::Sequence: {
            json out = json::array();
            std::size_t i = 0;
            for (const auto& item : node) {
                std::string item_path = index_path(path, i++);
                if (int line = yaml_line(item)) source.set_line(item_path, line);
                out.push_back(convert(item, item_path, source, depth + 1, budget));
            }
            return out;
        }
        case YAML::NodeType::Map: {
            json out = json::object();
            for (const auto& entry : node) {
                const YAML::Node& key = entry.first;
                if (!key.IsScalar())
                    throw FieldError(path, "a map key must be a string, not a list, map or null",
                                     yaml_line(key));
                std::string key_path = join_path(path, key.Scalar());
                if (out.contains(key.Scalar()))
                    throw FieldError(key_path, "duplicate key", yaml_line(key));
                // The key's line: a value may start lines below it, or be empty.
                if (int line = yaml_line(key)) source.set_line(key_path, line);
                out[key.Scalar()] = convert(entry.second, key_path, source, depth + 1, budget);
            }
            return out;
        }
    }
    return nullptr;
}

json yaml_to_json(const YAML::Node& node, const std::string& path, SourceMap& source) {
    if (int line = yaml_line(node); line && source.line_of(path) == 0) source.set_line(path, line);
    Budget budget;
    return convert(node, path, source, 0, budget);
}

std::string located(const std::string& source, int line, const std::string& message) {
    return line > 0 ? source + ":" + std::to_string(line) + ": " + message : source + ": " + message;
}

}  // namespace kiln::daemon::detail
